/** Raised when the environment or the config file cannot make a valid Config; the message names the field and value. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
