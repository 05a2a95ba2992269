import type { ClassroomBindings } from "../durable-objects/bindings";
import type { Classroom } from "../durable-objects/Classroom";

/** Bindings and settings of the Worker (wrangler.toml, secrets, .dev.vars); the class object's (DB, signing key) among them. */
export interface WorkerBindings extends ClassroomBindings {
  UPLOADS: R2Bucket;
  ASSETS: Fetcher;
  CLASSROOM: DurableObjectNamespace<Classroom>;
  REMINDERS: Queue;
  /** Issuer and audience the insp site puts in its SSO tokens. */
  INSP_SSO_ISSUER: string;
  INSP_SSO_AUDIENCE: string;
  /** HS256 shared secret for insp SSO tokens (or INSP_JWKS_URL for RS256/ES256). */
  INSP_SSO_SECRET?: string;
  INSP_JWKS_URL?: string;
  /**
   * Bearer secret of the operators' node-key routes (`/api/fleet/keys`: enrol, list, revoke). No sfu-node holds
   * it: nodes sign their requests with their own enrolled keys. While unset, keys cannot be enrolled or revoked.
   */
  FLEET_ENROLMENT_SECRET?: string;
  /** SendGrid v3 Mail Send; without SENDGRID_API_KEY e-mail goes to the local outbox. */
  SENDGRID_API_KEY?: string;
  /** Defaults to https://api.sendgrid.com. */
  SENDGRID_BASE_URL?: string;
  /** Sender address, e.g. "insp live <live@insp.example>" or a bare address. */
  SENDGRID_FROM?: string;
  /** Base64 DER (SPKI) ECDSA P-256 key that verifies SendGrid's signed event webhook. */
  SENDGRID_WEBHOOK_PUBLIC_KEY?: string;
  /** Twilio Messages API; without TWILIO_ACCOUNT_SID + TWILIO_AUTH_TOKEN SMS goes to the local outbox. */
  TWILIO_ACCOUNT_SID?: string;
  TWILIO_AUTH_TOKEN?: string;
  /** E.164 sender number (or a messaging service's alphanumeric id). */
  TWILIO_FROM?: string;
  /** Defaults to https://api.twilio.com. */
  TWILIO_BASE_URL?: string;
  /** How long a SendGrid/Twilio call may take before its outcome counts as unknown, in ms (default 15000). */
  PROVIDER_TIMEOUT_MS?: string;
  /** The site's public origin, e.g. https://live.insp.example: join links and webhook URLs. */
  PUBLIC_URL?: string;
  /**
   * Sites allowed to show the app in a frame: a CSP frame-ancestors source list such as
   * `'self' https://insp.example`. Unset or `'none'`: nobody (see worker/security-headers.ts).
   */
  FRAME_ANCESTORS?: string;
  /**
   * Large classes: above this many enrolled students (default 1000) a class's sockets are spread over fan-out
   * objects, one per CLASS_FAN_OUT_SOCKETS students (default 1000). See schema/protocol/fan-out.ts.
   */
  CLASS_FAN_OUT_ABOVE?: string;
  CLASS_FAN_OUT_SOCKETS?: string;
  /** Set to "true" by the local start script: seeds and local-only helpers are allowed. */
  LOCAL_DEV?: string;
}

declare global {
  namespace Cloudflare {
    interface Env extends WorkerBindings {}
  }
}

/** The Worker's environment (tests add their own bindings to the same global interface). */
export type Env = Cloudflare.Env;
