// A real OpenID Connect provider for the tests: the npm `oidc-provider` package (installed into .tools by
// scripts/setup.sh), with two clients and one account per role. Its own development sign-in pages stand in for
// the force's: any password is accepted for a known account; the account's claims are what Entra ID would send.
// Usage: node tests/oidc/provider.mjs <host> <port> <redirect_uri>[,<redirect_uri>...]
// Prints "ready <issuer>" once it listens.
import { generateKeyPairSync } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

// The package lives in the project's .tools (ES modules ignore NODE_PATH), or where VJ_TOOLS says.
const tools = process.env.VJ_TOOLS || join(dirname(fileURLToPath(import.meta.url)), "..", "..", ".tools");
const { default: Provider } = await import(pathToFileURL(join(tools, "node_modules/oidc-provider/lib/index.js")));

const host = process.argv[2];
const port = Number(process.argv[3]);
const redirectUris = (process.argv[4] || "").split(",").filter(Boolean);
const issuer = `http://${host}:${port}`;

// Role values as Entra ID app roles would name them; the tests map them with OIDC_ROLE_MAP.
const ACCOUNTS = {
  "officer.sso": { name: "PC Sam Officer", roles: ["VJ.Officer"], team: "Stockton CID", collar: "PC 4127" },
  "supervisor.sso": { name: "DS Ali Supervisor", roles: ["VJ.Supervisor"], team: "Stockton CID", collar: "DS 1001" },
  "admin.sso": { name: "Pat Admin", roles: ["VJ.Admin"], team: "", collar: "" },
  "fcr.sso": { name: "Jo Controller", roles: ["VJ.ControlRoom"], team: "Force Control Room", collar: "" },
  "payroll.sso": { name: "Lee Payroll", roles: ["Payroll.Reader"], team: "", collar: "" },
  "both.sso": { name: "Kim Both", roles: ["Payroll.Reader", "VJ.Officer", "VJ.Supervisor"], team: "Stockton CID",
                collar: "DS 2002" },
};

// A fresh signing key each run.
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: "jwk" }), kid: "test-key-1", alg: "RS256", use: "sig" };

const configuration = {
  clients: [
    { client_id: "vj-staff", client_secret: "vj-staff-test-secret-0123456789", redirect_uris: redirectUris,
      grant_types: ["authorization_code"], response_types: ["code"] },
    { client_id: "other-app", client_secret: "other-app-test-secret-0123456789", redirect_uris: redirectUris,
      grant_types: ["authorization_code"], response_types: ["code"] },
  ],
  jwks: { keys: [jwk] },
  claims: { openid: ["sub"], profile: ["name", "roles", "team", "collar"] },
  // Claims of the granted scopes go into the ID token itself, as Entra ID puts roles there.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ["provider-cookie-key-for-tests-only"] },
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...account }; } };
  },
  // Consent is the force's business, not this app's: every client gets the scopes it asks for.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope("openid profile");
    await grant.save();
    return grant;
  },
};

const provider = new Provider(issuer, configuration);
provider.on("server_error", (ctx, err) => console.error("server_error", err));
provider.listen(port, host, () => console.log(`ready ${issuer}`));
