CREATE TABLE `class_marks` (
	`id` text PRIMARY KEY NOT NULL,
	`class_id` text NOT NULL,
	`live_session_id` text,
	`kind` text NOT NULL,
	`label` text NOT NULL,
	`surface` text,
	`user_id` text,
	`at` integer NOT NULL,
	FOREIGN KEY (`class_id`) REFERENCES `classes`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `class_marks_class_at` ON `class_marks` (`class_id`,`at`);--> statement-breakpoint
ALTER TABLE `class_series` ADD `until` text;