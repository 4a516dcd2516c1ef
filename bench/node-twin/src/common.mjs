// What every twin handler shares, built once per cold start as the Rust functions do: config,
// the DynamoDB client, the token key, the password hasher. Same table layout as the Rust API
// (docs/architecture.md, "Data model"): user, email claim and session items under pk/sk.
import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  DeleteItemCommand,
  BatchGetItemCommand,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import jwt from "jsonwebtoken";

export const table = process.env.TABLE_NAME;
const key = process.env.TOKEN_SIGNING_KEY;
const issuer = process.env.TOKEN_ISSUER ?? "accounts-api";
const audience = process.env.TOKEN_AUDIENCE ?? "accounts-api";
const ttl = Number(process.env.ACCESS_TOKEN_TTL_SECONDS ?? 900);
const sessionIdle = Number(process.env.SESSION_IDLE_TTL_SECONDS ?? 604800);
export const ddb = new DynamoDBClient({});
export { GetItemCommand, PutItemCommand, DeleteItemCommand, BatchGetItemCommand, TransactWriteItemsCommand };

// TWIN_HASHER=bcrypt (bcryptjs, cost 10: the Express tutorial's choice) or argon2 (the argon2
// package with the Rust API's argon2id parameters: m=19456 KiB, t=2, p=1).
const hasher = process.env.TWIN_HASHER ?? "bcrypt";
const argon2 = hasher === "argon2" ? await import("argon2") : null;
const bcrypt = hasher === "bcrypt" ? (await import("bcryptjs")).default : null;
const ARGON2 = { type: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 };
const DUMMY = hasher === "argon2"
  ? "$argon2id$v=19$m=19456,p=1,t=2$u3yNKRn2lO+cp2xjT/Sg+Q$pLyQBbfeHWu529/zW924q35F882Qn/wvvLybSblBkx0"
  : "$2b$10$aV8XDll6Cs3omrGJaGgeA.tKoEGzBJcr72AiF4PHte1LGY1glro9S";

export const hashPassword = (password) =>
  argon2 ? argon2.hash(password, ARGON2) : bcrypt.hash(password, 10);

export async function verifyPassword(password, stored) {
  const hash = stored ?? DUMMY; // unknown account: the same work, no match
  try {
    const ok = argon2 ? await argon2.verify(hash, password) : await bcrypt.compare(password, hash);
    return ok && stored !== undefined;
  } catch {
    return false;
  }
}

export const json = (statusCode, body, headers = {}) => ({
  statusCode,
  headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
  body: JSON.stringify(body),
});

export const error = (statusCode, code, message, headers = {}) =>
  json(statusCode, { error: { code, message } }, headers);

export function parseBody(event) {
  const type = event.headers?.["content-type"] ?? "";
  if (!type.startsWith("application/json")) return [null, error(415, "unsupported_media_type", "The request body must be sent as application/json.")];
  const raw = event.isBase64Encoded ? Buffer.from(event.body ?? "", "base64").toString() : event.body ?? "";
  try {
    const body = JSON.parse(raw);
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw new Error();
    return [body, null];
  } catch {
    return [null, error(400, "malformed_json", "The request body is not valid JSON.")];
  }
}

export const normaliseEmail = (email) => String(email).trim().toLowerCase();
export const nowSeconds = () => Math.floor(Date.now() / 1000);
export const rfc3339 = (seconds) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");

export function newSession(userId, event) {
  const now = nowSeconds();
  const id = randomUUID();
  const seed = randomBytes(32);
  const item = {
    pk: { S: `USER#${userId}` }, sk: { S: `SESSION#${id}` }, session_id: { S: id },
    user_id: { S: userId }, started_at: { N: String(now) }, last_used_at: { N: String(now) },
    expires_at: { N: String(now + sessionIdle) }, generation: { N: "1" },
    rotated_at_ms: { N: String(Date.now()) }, seed: { B: seed },
    user_agent: { S: event.requestContext?.http?.userAgent ?? "-" },
    ip_address: { S: event.requestContext?.http?.sourceIp ?? "-" },
  };
  const mac = createHmac("sha256", key).update(`${userId}.${id}.1`).update(seed).digest("base64url");
  return { id, item, refreshToken: `v1.${userId}.${id}.1.${mac}` };
}

export function signedIn(statusCode, user, session) {
  const now = nowSeconds();
  const token = jwt.sign(
    { sub: user.id, sid: session.id, iat: now, nbf: now, exp: now + ttl, iss: issuer, aud: audience, jti: randomUUID() },
    key,
    { algorithm: "HS256", noTimestamp: true },
  );
  return json(statusCode, {
    access_token: token, token_type: "Bearer", expires_in: ttl,
    refresh_token: session.refreshToken, user: publicUser(user),
  });
}

export const publicUser = (user) => ({ id: user.id, email: user.email, name: user.name ?? null, created_at: user.created_at });

export function userFromItem(item) {
  return {
    id: item.id.S, email: item.email.S, name: item.name?.S ?? null,
    created_at: item.created_at.S, password_hash: item.password_hash?.S, version: Number(item.version.N),
  };
}

export function verifyBearer(event) {
  const header = event.headers?.authorization ?? "";
  if (!header.startsWith("Bearer ")) return [null, error(401, "missing_token", "This endpoint requires a bearer token.", { "www-authenticate": 'Bearer realm="accounts"' })];
  try {
    const claims = jwt.verify(header.slice(7), key, { algorithms: ["HS256"], issuer, audience });
    if (typeof claims.sub !== "string" || typeof claims.sid !== "string") throw new Error("claims");
    return [claims, null];
  } catch {
    return [null, invalidToken()];
  }
}

export const invalidToken = () =>
  error(401, "invalid_token", "The access token is invalid or has expired.", { "www-authenticate": 'Bearer realm="accounts", error="invalid_token"' });

export const throttleKey = (email) => `THROTTLE#${createHash("sha256").update(key).update(email).digest("hex")}`;
