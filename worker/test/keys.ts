/** Test-only keys: never used outside the test pool. */
export const TEST_SSO_SECRET = "test-sso-secret-that-is-long-enough-for-hs256-0123456789";
export const TEST_SIGNING_KEY = {
  key_ops: ["sign"],
  ext: true,
  kty: "EC",
  x: "zrf3PozosVw6FvU8cMELpMrFKRU9CGO1Yo9bYpmwimE",
  y: "hg4Px8ta8ne3ZnhmXCYUItPTOKw-SnmN-1IkQJ0Ai6Y",
  crv: "P-256",
  d: "OQkUoi3NUWkJ2XIu-7U6giThiYQj0x2nnxy2_oZdpWA",
  kid: "test-key-1",
  alg: "ES256",
};
