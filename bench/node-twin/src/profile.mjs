// GET /profile: the token verified, then the user and the token's session in one strongly
// consistent BatchGetItem, as the Rust API does.
import { ddb, table, BatchGetItemCommand, invalidToken, json, nowSeconds, publicUser, userFromItem, verifyBearer } from "./common.mjs";

export async function handler(event) {
  const [claims, refused] = verifyBearer(event);
  if (refused) return refused;
  const pk = { S: `USER#${claims.sub}` };
  const read = await ddb.send(new BatchGetItemCommand({
    RequestItems: { [table]: { Keys: [{ pk, sk: { S: "USER" } }, { pk, sk: { S: `SESSION#${claims.sid}` } }], ConsistentRead: true } },
  }));
  const items = read.Responses?.[table] ?? [];
  const userItem = items.find((i) => i.sk.S === "USER");
  const session = items.find((i) => i.sk.S.startsWith("SESSION#"));
  if (!userItem || !session || Number(session.expires_at.N) <= nowSeconds()) return invalidToken();
  const user = userFromItem(userItem);
  return json(200, publicUser(user), { etag: `"${user.version}"` });
}
