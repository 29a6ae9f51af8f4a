CREATE TABLE `projection_rows` (
	`projection` text NOT NULL,
	`tenant` text NOT NULL,
	`key` text NOT NULL,
	`stream` text NOT NULL,
	`version` integer NOT NULL,
	`data_json` text NOT NULL,
	PRIMARY KEY(`projection`, `tenant`, `key`)
);
--> statement-breakpoint
CREATE INDEX `projection_rows_stream_idx` ON `projection_rows` (`projection`,`tenant`,`stream`);