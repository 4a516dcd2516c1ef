// POST /login: the Rust API's DynamoDB work, call for call: throttle read and counted write,
// claim and user reads (strongly consistent), one password verification (a dummy one for an
// unknown email), the session written in a transaction checking the hash, the throttle reset.
import { ddb, table, GetItemCommand, PutItemCommand, DeleteItemCommand, TransactWriteItemsCommand, error, newSession, normaliseEmail, parseBody, signedIn, throttleKey, userFromItem, verifyPassword } from "./common.mjs";

const NIL = "00000000-0000-0000-0000-000000000000";
const get = (pk, sk) => ddb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }));

export async function handler(event) {
  const [body, refused] = parseBody(event);
  if (refused) return refused;
  const { email, password } = body;
  if (typeof email !== "string" || typeof password !== "string") {
    return error(400, "validation_failed", "The request body has missing or invalid fields.");
  }
  const normalised = normaliseEmail(email);
  const throttle = throttleKey(normalised);
  const counted = await get(throttle, "LOGIN");
  const failures = Number(counted.Item?.failures?.N ?? 0);
  await ddb.send(new PutItemCommand({
    TableName: table,
    Item: { pk: { S: throttle }, sk: { S: "LOGIN" }, failures: { N: String(failures + 1) }, expires_at: { N: String(Math.floor(Date.now() / 1000) + 86400) } },
  }));
  const claim = await get(`EMAIL#${normalised}`, "EMAIL");
  const userId = claim.Item?.user_id?.S ?? NIL;
  const found = await get(`USER#${userId}`, "USER");
  const user = found.Item ? userFromItem(found.Item) : null;
  if (!(await verifyPassword(password, user?.password_hash))) {
    return error(401, "invalid_credentials", "The email or password is incorrect.");
  }
  const session = newSession(user.id, event);
  await ddb.send(new TransactWriteItemsCommand({
    TransactItems: [
      { Put: { TableName: table, Item: session.item } },
      { ConditionCheck: { TableName: table, Key: { pk: { S: `USER#${user.id}` }, sk: { S: "USER" } }, ConditionExpression: "password_hash = :h", ExpressionAttributeValues: { ":h": { S: user.password_hash } } } },
    ],
  }));
  await ddb.send(new DeleteItemCommand({ TableName: table, Key: { pk: { S: throttle }, sk: { S: "LOGIN" } } }));
  return signedIn(200, user, session);
}
