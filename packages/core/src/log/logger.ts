/**
 * Structured JSON logging over pino. Every component logs through a child of one root logger; plugins get a child
 * carrying `plugin: <name>`.
 */
import { pino, type DestinationStream, type LevelWithSilent, type Logger as PinoLogger, type LoggerOptions as PinoOptions } from 'pino';

/** The logger type used across retina-ts (a pino logger). */
export type Logger = PinoLogger;

/** Levels accepted in config: pino's plus zap's `dpanic`/`panic` (Retina's config values), which map to fatal. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'dpanic', 'panic', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Options of `createLogger`. */
export interface LoggerOptions {
  /** Minimum level (default info). */
  level?: LogLevel;
  /** Value of the `name` field on every line (e.g. `retina-agent`). */
  name?: string;
  /** Where lines go (default stdout). Tests pass a stream to capture them. */
  destination?: DestinationStream;
}

/** Maps a config level to the pino level that means the same. */
export function toPinoLevel(level: LogLevel): LevelWithSilent {
  return level === 'dpanic' || level === 'panic' ? 'fatal' : level;
}

/** Creates a JSON logger: one object per line with `time` (ISO 8601), `level` (name), `msg` and bound fields. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const opts: PinoOptions = {
    level: toPinoLevel(options.level ?? 'info'),
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    ...(options.name ? { name: options.name } : {}),
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}
