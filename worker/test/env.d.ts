import type { D1Migration } from "cloudflare:test";
import "../env";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}
