CREATE TABLE `llm_calls` (
	`tenant` text NOT NULL,
	`run_id` text NOT NULL,
	`seq` integer NOT NULL,
	`at` text NOT NULL,
	`at_key` text NOT NULL,
	`workflow` text NOT NULL,
	`step_id` text NOT NULL,
	`role` text,
	`source` text NOT NULL,
	`model` text NOT NULL,
	`input_tokens` integer NOT NULL,
	`output_tokens` integer NOT NULL,
	`cost` real NOT NULL,
	PRIMARY KEY(`tenant`, `run_id`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `llm_calls_tenant_at_idx` ON `llm_calls` (`tenant`,`at_key`);