import { Hono } from "hono";
import type { AppEnv } from "../app-env";

export const classesRoutes = new Hono<AppEnv>();
