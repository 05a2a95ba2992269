CREATE TABLE `recording_positions` (
	`user_id` text NOT NULL,
	`recording_id` text NOT NULL,
	`position_ms` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `recording_id`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`recording_id`) REFERENCES `recordings`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `session_engagement` (
	`session_id` text NOT NULL,
	`user_id` text NOT NULL,
	`hands_raised` integer DEFAULT 0 NOT NULL,
	`reactions` integer DEFAULT 0 NOT NULL,
	`stage_ms` integer DEFAULT 0 NOT NULL,
	`stage_since` integer,
	PRIMARY KEY(`session_id`, `user_id`),
	FOREIGN KEY (`session_id`) REFERENCES `live_sessions`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `classes` ADD `recording_downloads` integer DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE `recordings` ADD `playable_url` text;