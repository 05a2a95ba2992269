ALTER TABLE `users` ADD `timezone_chosen_at` integer;--> statement-breakpoint
-- Users whose zone is not the default chose one (in Settings, or insp said so): keep it as chosen.
UPDATE `users` SET `timezone_chosen_at` = `updated_at` WHERE `timezone` <> 'UTC';
