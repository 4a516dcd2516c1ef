// Verifies an access token as any Node service would: jose's createRemoteJWKSet fetching the
// issuer's JWKS, jwtVerify pinning the algorithms, issuer and audience. Prints the claims and
// exits 0, or prints the reason and exits 1.
//
//     node verify.mjs <jwks_uri> <issuer> <audience> <algorithm> <token>
import { createRemoteJWKSet, jwtVerify } from "jose";

const [jwksUri, issuer, audience, algorithm, token] = process.argv.slice(2);
const keys = createRemoteJWKSet(new URL(jwksUri));
try {
  const { payload, protectedHeader } = await jwtVerify(token, keys, {
    issuer,
    audience,
    algorithms: [algorithm],
    typ: "at+jwt",
  });
  console.log(JSON.stringify({ header: protectedHeader, claims: payload }));
} catch (error) {
  console.log(`refused: ${error.code ?? error.name}`);
  process.exit(1);
}
