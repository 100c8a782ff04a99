import { astToString } from "openapi-typescript";
import ts from "typescript";

/** The most lines a generated file's part takes, so that no file of the SDK passes 400. */
const LINES_PER_FILE = 360;

const f = ts.factory;
const exported = [f.createModifier(ts.SyntaxKind.ExportKeyword)];

/** One generated file: its name in `src/generated/` and its text (without the banner). */
export interface TypesFile {
  name: string;
  text: string;
}

/**
 * Splits what openapi-typescript makes of the document (the interfaces `paths`, `webhooks`,
 * `components`, `operations` and the alias `$defs`, thousands of lines in one file) into files
 * of at most {@link LINES_PER_FILE} lines: `paths`, `operations` and `components["schemas"]`
 * become intersections of interfaces (`Paths1 & Paths2 & …`) written in files of their own, and
 * `openapi.ts` assembles them under the names openapi-typescript gives, so the SDK's types read
 * exactly as one file's would.
 */
export function splitTypes(nodes: readonly ts.Node[]): TypesFile[] {
  const parts: Part[] = [];
  const index = nodes.map((node) => {
    if (!ts.isInterfaceDeclaration(node)) return node;
    const name = node.name.text;
    if (name === "paths" || name === "operations") {
      return f.createTypeAliasDeclaration(exported, name, undefined, intersection(partsOf(name, node.members, parts)));
    }
    if (name === "components") {
      const members = node.members.map((member) => {
        if (!ts.isPropertySignature(member) || propertyName(member) !== "schemas" || !member.type || !ts.isTypeLiteralNode(member.type)) return member;
        return f.updatePropertySignature(member, member.modifiers, member.name, member.questionToken, intersection(partsOf("schemas", member.type.members, parts)));
      });
      return f.updateInterfaceDeclaration(node, node.modifiers, node.name, node.typeParameters, node.heritageClauses, members);
    }
    return node;
  });
  const imports = parts.map((part) => `import type { ${part.interfaceName} } from "./${part.file.name.replace(/\.ts$/, ".js")}";`);
  return [{ name: "openapi.ts", text: `${imports.join("\n")}\n${astToString(index)}` }, ...parts.map((part) => part.file)];
}

/** A generated file of part of an interface, and the name of the interface it declares. */
interface Part {
  file: TypesFile;
  interfaceName: string;
}

/** `members` as interfaces of at most LINES_PER_FILE lines each, added to `parts` as files `<kind>-<n>.ts`; answers their names. */
function partsOf(kind: string, members: readonly ts.TypeElement[], parts: Part[]): string[] {
  const chunks: ts.TypeElement[][] = [];
  let lines = 0;
  for (const member of members) {
    const size = linesOf(member);
    const last = chunks.at(-1);
    if (last && lines + size <= LINES_PER_FILE) {
      last.push(member);
      lines += size;
    } else {
      chunks.push([member]);
      lines = size;
    }
  }
  return chunks.map((chunk, i) => {
    // `schemas-2.ts` declares `Schemas2`.
    const interfaceName = `${kind.charAt(0).toUpperCase()}${kind.slice(1)}${i + 1}`;
    const text = astToString([f.createInterfaceDeclaration(exported, interfaceName, undefined, undefined, chunk)]);
    parts.push({ file: { name: `${kind}-${i + 1}.ts`, text: `${importsFor(text)}${text}` }, interfaceName });
    return interfaceName;
  });
}

/** The index's names a part refers to (`components["schemas"]["Agent"]`, `operations["getAgent"]`), imported from it. */
function importsFor(text: string): string {
  const used = ["components", "operations", "paths", "webhooks"].filter((name) => text.includes(`${name}[`));
  return used.length === 0 ? "" : `import type { ${used.join(", ")} } from "./openapi.js";\n`;
}

function linesOf(member: ts.TypeElement): number {
  return astToString([f.createInterfaceDeclaration(undefined, "X", undefined, undefined, [member])]).split("\n").length - 2;
}

function intersection(names: string[]): ts.TypeNode {
  const types = names.map((name) => f.createTypeReferenceNode(name));
  return types.length === 1 && types[0] ? types[0] : f.createIntersectionTypeNode(types);
}

function propertyName(member: ts.PropertySignature): string | undefined {
  return ts.isIdentifier(member.name) || ts.isStringLiteral(member.name) ? member.name.text : undefined;
}
