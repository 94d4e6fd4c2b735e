/**
 * The package's own .proto files must be a wire-compatible subset of the official Hubble API (as recorded in
 * api-record/hubble-api.json): every message, field, enum value and RPC they declare exists in the official files
 * with the same name, number and type.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';
import { PROTO_FILES, protoDir } from '../src/index.js';
import { recordRoot } from '../api-record/record.mjs';

function load(dir: string, files: readonly string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) =>
    target.startsWith('google/protobuf/') ? target : join(dir, target);
  root.loadSync([...files], { keepCase: true });
  root.resolveAll();
  return root;
}

const ours = load(
  protoDir(),
  PROTO_FILES.filter((f) => !f.startsWith('grpc/')),
);
const official = recordRoot();

function walk(ns: protobuf.NamespaceBase, visit: (obj: protobuf.ReflectionObject) => void): void {
  for (const obj of ns.nestedArray) {
    visit(obj);
    if (obj instanceof protobuf.Namespace) walk(obj, visit);
  }
}

describe('package protos vs the official Hubble API', () => {
  const checked = { messages: 0, fields: 0, enums: 0, methods: 0 };

  it('declare only names and numbers the official API has, with the same types', () => {
    const problems: string[] = [];
    walk(ours, (obj) => {
      const name = obj.fullName.slice(1);
      if (name.startsWith('google.')) return;
      const theirs = official.lookup(name);
      if (!theirs) {
        problems.push(`${name}: not in the official protos`);
        return;
      }
      if (obj instanceof protobuf.Type) {
        checked.messages++;
        const t = theirs as protobuf.Type;
        for (const field of obj.fieldsArray) {
          checked.fields++;
          const other = t.fields[field.name];
          if (!other) problems.push(`${name}.${field.name}: no such field`);
          else if (other.id !== field.id)
            problems.push(`${name}.${field.name}: number ${field.id}, official ${other.id}`);
          else if (
            other.resolvedType?.fullName !== field.resolvedType?.fullName ||
            (!field.resolvedType && other.type !== field.type)
          )
            problems.push(`${name}.${field.name}: type ${field.type}, official ${other.type}`);
          else if (other.repeated !== field.repeated)
            problems.push(`${name}.${field.name}: repeated differs`);
          else if ((other.partOf?.name ?? '') !== (field.partOf?.name ?? ''))
            problems.push(`${name}.${field.name}: oneof differs`);
        }
      } else if (obj instanceof protobuf.Enum) {
        checked.enums++;
        const e = theirs as protobuf.Enum;
        for (const [valueName, id] of Object.entries(obj.values)) {
          if (e.values[valueName] !== id)
            problems.push(`${name}.${valueName}: ${id}, official ${String(e.values[valueName])}`);
        }
      } else if (obj instanceof protobuf.Service) {
        const s = theirs as protobuf.Service;
        for (const method of obj.methodsArray) {
          checked.methods++;
          const other = s.methods[method.name];
          if (!other) problems.push(`${name}/${method.name}: no such RPC`);
          else if (
            other.resolvedRequestType?.fullName !== method.resolvedRequestType?.fullName ||
            other.resolvedResponseType?.fullName !== method.resolvedResponseType?.fullName ||
            Boolean(other.responseStream) !== Boolean(method.responseStream)
          )
            problems.push(`${name}/${method.name}: signature differs`);
        }
      }
    });
    expect(problems).toEqual([]);
    expect(checked.messages).toBeGreaterThan(30);
    expect(checked.methods).toBe(7);
  });

  it('declare every FlowFilter field and every Observer RPC, so no request is misread', () => {
    const mine = ours.lookupType('flow.FlowFilter');
    const theirs = official.lookupType('flow.FlowFilter');
    expect(Object.keys(mine.fields).sort()).toEqual(Object.keys(theirs.fields).sort());
    expect(Object.keys(ours.lookupService('observer.Observer').methods).sort()).toEqual(
      Object.keys(official.lookupService('observer.Observer').methods).sort(),
    );
    expect(Object.keys(ours.lookupType('observer.GetFlowsRequest').fields).sort()).toEqual(
      Object.keys(official.lookupType('observer.GetFlowsRequest').fields).sort(),
    );
  });

  it('declare every DropReason and Verdict value (metric labels are enum names)', () => {
    expect(ours.lookupEnum('flow.DropReason').values).toEqual(official.lookupEnum('flow.DropReason').values);
    expect(ours.lookupEnum('flow.Verdict').values).toEqual(official.lookupEnum('flow.Verdict').values);
  });
});
