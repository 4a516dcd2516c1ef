// POST /register: the user, its email claim and its first session in one transaction.
import { randomUUID } from "node:crypto";
import { ddb, table, TransactWriteItemsCommand, error, hashPassword, newSession, normaliseEmail, nowSeconds, parseBody, rfc3339, signedIn } from "./common.mjs";

export async function handler(event) {
  const [body, refused] = parseBody(event);
  if (refused) return refused;
  const { email, password, name } = body;
  if (typeof email !== "string" || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email.trim()) || typeof password !== "string" || password.length < 8 || password.length > 128) {
    return error(400, "validation_failed", "The request body has missing or invalid fields.");
  }
  const user = { id: randomUUID(), email: normaliseEmail(email), name: typeof name === "string" ? name.trim() : null, created_at: rfc3339(nowSeconds()) };
  const hash = await hashPassword(password);
  const session = newSession(user.id, event);
  const userItem = {
    pk: { S: `USER#${user.id}` }, sk: { S: "USER" }, id: { S: user.id }, email: { S: user.email },
    password_hash: { S: hash }, created_at: { S: user.created_at }, version: { N: "1" },
    ...(user.name ? { name: { S: user.name } } : {}),
  };
  const claim = { pk: { S: `EMAIL#${user.email}` }, sk: { S: "EMAIL" }, user_id: { S: user.id }, created_at: { S: user.created_at }, version: { N: "1" } };
  const putNew = (Item) => ({ Put: { TableName: table, Item, ConditionExpression: "attribute_not_exists(#pk)", ExpressionAttributeNames: { "#pk": "pk" } } });
  try {
    await ddb.send(new TransactWriteItemsCommand({ TransactItems: [putNew(userItem), putNew(claim), putNew(session.item)] }));
  } catch (e) {
    if (e.name === "TransactionCanceledException") return error(409, "email_taken", "An account with this email already exists.");
    console.error(JSON.stringify({ level: "ERROR", message: "register failed", error: e.name }));
    return error(503, "service_unavailable", "The service is temporarily unavailable.");
  }
  return signedIn(201, user, session);
}
