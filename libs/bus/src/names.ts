/** The two streams of a deployment. */
export type StreamKind = "EVENTS" | "DEAD_LETTERS";

/** A stream's name under a deployment's prefix: `EVENTS` or `<PREFIX>_EVENTS`. */
export function streamName(prefix: string | undefined, name: StreamKind): string {
  return prefix ? `${prefix.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_${name}` : name;
}

/** Subjects and streams under one deployment's prefix (`GALAXY_BUS_PREFIX`). */
export class Names {
  constructor(private readonly prefix: string | undefined) {}

  /** A subject under the deployment's prefix. */
  subject(subject: string): string {
    return this.prefix ? `${this.prefix}.${subject}` : subject;
  }

  /** The subject without the deployment's prefix. */
  unprefixed(subject: string): string {
    const prefix = this.prefix ? `${this.prefix}.` : "";
    return prefix && subject.startsWith(prefix) ? subject.slice(prefix.length) : subject;
  }

  /** A stream name under the deployment's prefix. */
  stream(name: StreamKind): string {
    return streamName(this.prefix, name);
  }
}
