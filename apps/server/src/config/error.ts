import { ShiiooError } from '@shiioo/core'

/** A setting that stops start-up; each problem names the setting and the source that set it. */
export class ConfigError extends ShiiooError {
  readonly problems: readonly string[]

  constructor(problems: readonly string[]) {
    super('INVALID_INPUT', problems.join('; '), { details: { problems } })
    this.problems = problems
  }
}
