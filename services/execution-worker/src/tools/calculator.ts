/**
 * The `calculator` tool's arithmetic: a small recursive-descent parser, never `eval`.
 * Numbers (decimal, with exponent), `+ - * / %`, `^` or `**` (power, right-associative),
 * unary minus, parentheses, the constants `pi` and `e`, and the functions `sqrt abs round
 * floor ceil ln log10 exp sin cos tan min max pow`.
 */
export class CalculatorError extends Error {
  readonly code = "invalid_expression";
  constructor(message: string) {
    super(message);
    this.name = "CalculatorError";
  }
}

/** Longest expression accepted, and deepest nesting: a model cannot make the parser work hard. */
export const MAX_EXPRESSION_LENGTH = 1_000;
const MAX_DEPTH = 64;

type Token = { kind: "number"; value: number; at: number } | { kind: "name"; value: string; at: number } | { kind: "op"; value: string; at: number };

const CONSTANTS: Readonly<Record<string, number>> = { pi: Math.PI, e: Math.E };

const FUNCTIONS: Readonly<Record<string, { arity: [number, number]; apply: (args: number[]) => number }>> = {
  sqrt: { arity: [1, 1], apply: ([x]) => Math.sqrt(x ?? NaN) },
  abs: { arity: [1, 1], apply: ([x]) => Math.abs(x ?? NaN) },
  round: { arity: [1, 1], apply: ([x]) => Math.round(x ?? NaN) },
  floor: { arity: [1, 1], apply: ([x]) => Math.floor(x ?? NaN) },
  ceil: { arity: [1, 1], apply: ([x]) => Math.ceil(x ?? NaN) },
  ln: { arity: [1, 1], apply: ([x]) => Math.log(x ?? NaN) },
  log10: { arity: [1, 1], apply: ([x]) => Math.log10(x ?? NaN) },
  exp: { arity: [1, 1], apply: ([x]) => Math.exp(x ?? NaN) },
  sin: { arity: [1, 1], apply: ([x]) => Math.sin(x ?? NaN) },
  cos: { arity: [1, 1], apply: ([x]) => Math.cos(x ?? NaN) },
  tan: { arity: [1, 1], apply: ([x]) => Math.tan(x ?? NaN) },
  pow: { arity: [2, 2], apply: ([x, y]) => Math.pow(x ?? NaN, y ?? NaN) },
  min: { arity: [1, 64], apply: (args) => Math.min(...args) },
  max: { arity: [1, 64], apply: (args) => Math.max(...args) },
};

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i] ?? "";
    if (/\s/.test(ch)) {
      i += 1;
      continue;
    }
    const number = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(source.slice(i));
    if (number) {
      tokens.push({ kind: "number", value: Number(number[0]), at: i });
      i += number[0].length;
      continue;
    }
    const name = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(source.slice(i));
    if (name) {
      tokens.push({ kind: "name", value: name[0].toLowerCase(), at: i });
      i += name[0].length;
      continue;
    }
    if (source.startsWith("**", i)) {
      tokens.push({ kind: "op", value: "^", at: i });
      i += 2;
      continue;
    }
    if ("+-*/%^(),".includes(ch)) {
      tokens.push({ kind: "op", value: ch, at: i });
      i += 1;
      continue;
    }
    throw new CalculatorError(`Unexpected character '${ch}' at position ${i + 1}`);
  }
  return tokens;
}

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly tokens: Token[]) {}

  parse(): number {
    if (this.tokens.length === 0) throw new CalculatorError("The expression is empty");
    const value = this.expression();
    const extra = this.tokens[this.pos];
    if (extra) throw new CalculatorError(`Unexpected '${String(extra.value)}' at position ${extra.at + 1}`);
    return value;
  }

  private peekOp(...ops: string[]): string | null {
    const token = this.tokens[this.pos];
    return token?.kind === "op" && ops.includes(token.value) ? token.value : null;
  }

  private expect(op: string): void {
    if (!this.peekOp(op)) {
      const token = this.tokens[this.pos];
      throw new CalculatorError(token ? `Expected '${op}' at position ${token.at + 1}` : `Expected '${op}' at the end`);
    }
    this.pos += 1;
  }

  private nested<T>(parse: () => T): T {
    this.depth += 1;
    if (this.depth > MAX_DEPTH) throw new CalculatorError(`The expression nests deeper than ${MAX_DEPTH} levels`);
    try {
      return parse();
    } finally {
      this.depth -= 1;
    }
  }

  private expression(): number {
    let value = this.term();
    for (let op = this.peekOp("+", "-"); op; op = this.peekOp("+", "-")) {
      this.pos += 1;
      const right = this.term();
      value = op === "+" ? value + right : value - right;
    }
    return value;
  }

  private term(): number {
    let value = this.unary();
    for (let op = this.peekOp("*", "/", "%"); op; op = this.peekOp("*", "/", "%")) {
      this.pos += 1;
      const right = this.unary();
      if ((op === "/" || op === "%") && right === 0) throw new CalculatorError("Division by zero");
      value = op === "*" ? value * right : op === "/" ? value / right : value % right;
    }
    return value;
  }

  private unary(): number {
    const op = this.peekOp("+", "-");
    if (op) {
      this.pos += 1;
      const value = this.nested(() => this.unary());
      return op === "-" ? -value : value;
    }
    return this.power();
  }

  private power(): number {
    const base = this.primary();
    if (this.peekOp("^")) {
      this.pos += 1;
      // Right-associative, and binds tighter than a unary minus on its left: -2^2 = -4.
      const exponent = this.nested(() => this.unary());
      return Math.pow(base, exponent);
    }
    return base;
  }

  private primary(): number {
    const token = this.tokens[this.pos];
    if (!token) throw new CalculatorError("The expression ends too early");
    if (token.kind === "number") {
      this.pos += 1;
      return token.value;
    }
    if (token.kind === "op" && token.value === "(") {
      this.pos += 1;
      const value = this.nested(() => this.expression());
      this.expect(")");
      return value;
    }
    if (token.kind === "name") {
      this.pos += 1;
      const fn = Object.hasOwn(FUNCTIONS, token.value) ? FUNCTIONS[token.value] : undefined;
      if (fn) {
        this.expect("(");
        const args: number[] = [];
        if (!this.peekOp(")")) {
          args.push(this.nested(() => this.expression()));
          while (this.peekOp(",")) {
            this.pos += 1;
            args.push(this.nested(() => this.expression()));
          }
        }
        this.expect(")");
        const [least, most] = fn.arity;
        if (args.length < least || args.length > most) {
          throw new CalculatorError(least === most ? `${token.value} takes ${least} argument${least === 1 ? "" : "s"}` : `${token.value} takes ${least} to ${most} arguments`);
        }
        return fn.apply(args);
      }
      if (Object.hasOwn(CONSTANTS, token.value)) return CONSTANTS[token.value] ?? NaN;
      throw new CalculatorError(`Unknown name '${token.value}' at position ${token.at + 1}`);
    }
    throw new CalculatorError(`Unexpected '${token.value}' at position ${token.at + 1}`);
  }
}

/** Evaluates an arithmetic expression; throws `CalculatorError` for anything else, or a result that is not a finite number. */
export function calculate(expression: string): number {
  if (expression.length > MAX_EXPRESSION_LENGTH) throw new CalculatorError(`The expression is longer than ${MAX_EXPRESSION_LENGTH} characters`);
  const value = new Parser(tokenize(expression)).parse();
  if (!Number.isFinite(value)) throw new CalculatorError("The result is not a finite number");
  // Binary floating point noise (0.1 + 0.2) is rounded away at 12 significant digits.
  return Number(value.toPrecision(12));
}
