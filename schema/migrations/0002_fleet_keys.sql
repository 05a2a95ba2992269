CREATE TABLE `sfu_node_keys` (
	`kid` text PRIMARY KEY NOT NULL,
	`node_id` text NOT NULL,
	`public_jwk` text NOT NULL,
	`enrolled_at` integer NOT NULL,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE INDEX `sfu_node_keys_node_id` ON `sfu_node_keys` (`node_id`);--> statement-breakpoint
CREATE TABLE `sfu_node_token_uses` (
	`jti` text PRIMARY KEY NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `sfu_node_token_uses_expires_at` ON `sfu_node_token_uses` (`expires_at`);--> statement-breakpoint
ALTER TABLE `recordings` ADD `node_id` text;