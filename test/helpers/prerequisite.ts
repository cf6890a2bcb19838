/**
 * Whether an optional prerequisite of a test is here. On a developer's machine a missing one
 * skips the test (its name says what is skipped); in CI (`CI` set) it throws, so a CI machine
 * that lacks something the suite needs fails loudly instead of passing with tests skipped.
 */
export function prerequisite(ok: boolean, what: string): boolean {
  if (!ok && process.env.CI) throw new Error(`CI needs ${what}; .ci/run installs it — a missing prerequisite fails the run rather than skipping tests`);
  return ok;
}
