/**
 * Waits until `check` holds, polling every 20 ms; throws naming `what` after `timeoutMs`
 * (a bound for a loaded machine, not a timing assertion). The one wait of the tests.
 */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
