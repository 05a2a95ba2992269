CREATE TABLE `board_ops` (
	`class_id` text NOT NULL,
	`op_seq` integer NOT NULL,
	`user_id` text NOT NULL,
	`surface` text NOT NULL,
	`op` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`class_id`, `op_seq`),
	FOREIGN KEY (`class_id`) REFERENCES `classes`(`id`) ON UPDATE no action ON DELETE cascade
);
