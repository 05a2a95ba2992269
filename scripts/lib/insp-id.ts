/**
 * The insp id that scripts give an e-mail address when none is asked for: the same address always maps to the
 * same id, as on the real insp site. The seed gives it to the demo accounts, so the SSO links that sso-token
 * makes for them find them by insp id instead of asking to link an account that has a password.
 */
export function defaultInspId(email: string): string {
  return `insp-${email.toLowerCase()}`;
}
