// JSON logs with pino. Redaction is a second line of defence: no module logs a token, code or secret on purpose.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** `destination` defaults to stdout; tests pass a stream to read every line the server writes. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'gatehouse' },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'res.headers["set-cookie"]',
        '*.password',
        '*.client_secret',
        '*.code',
        '*.code_verifier',
        '*.refresh_token',
        '*.access_token',
        // A failed query's parameters are request data (ids, sometimes worse): never in a log line.
        'err.params',
        'err.bindings',
        'err.parameters',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
