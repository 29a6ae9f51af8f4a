/**
 * True when A and B are the same type. The views spell their literal unions out for clients (who
 * do not import the engine); `const check: Same<View, Engine> = true` stops compiling when they drift.
 */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
