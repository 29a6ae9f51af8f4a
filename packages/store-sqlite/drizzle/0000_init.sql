CREATE TABLE `meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `runs` (
	`tenant` text NOT NULL,
	`run_id` text NOT NULL,
	`workflow` text NOT NULL,
	`workflow_hash` text NOT NULL,
	`status` text NOT NULL,
	`started_at` text NOT NULL,
	`started_key` text NOT NULL,
	`updated_at` text NOT NULL,
	`ended_at` text,
	`reason` text,
	`version` integer NOT NULL,
	`step_count` integer NOT NULL,
	`steps_json` text NOT NULL,
	PRIMARY KEY(`tenant`, `run_id`)
);
--> statement-breakpoint
CREATE INDEX `runs_tenant_status_run_idx` ON `runs` (`tenant`,`status`,`run_id`);--> statement-breakpoint
CREATE INDEX `runs_tenant_workflow_run_idx` ON `runs` (`tenant`,`workflow`,`run_id`);--> statement-breakpoint
CREATE INDEX `runs_tenant_started_run_idx` ON `runs` (`tenant`,`started_key`,`run_id`);--> statement-breakpoint
CREATE TABLE `stream_checkpoints` (
	`tenant` text NOT NULL,
	`stream` text NOT NULL,
	`version` integer NOT NULL,
	`token` text NOT NULL,
	PRIMARY KEY(`tenant`, `stream`)
);
