import { describe, expect, it } from "vitest";
import { reconcile } from "./reconcile";

interface File {
  client: { code: string; phone: string | null };
  notes: { id: string; text: string }[];
  risk?: { level: string } | null;
}

const file = (): File => ({
  client: { code: "C-7KQ2", phone: "07700 900001" },
  notes: [
    { id: "n1", text: "First" },
    { id: "n2", text: "Second" },
    { id: "n3", text: "Third" },
  ],
  risk: null,
});

/** A target that records which of its parts were assigned. */
function watched(f: File) {
  const set: string[] = [];
  const notes = new Proxy(f.notes, {
    set(list, key, value) {
      set.push(`notes[${String(key)}]`);
      return Reflect.set(list, key, value);
    },
  });
  const target = new Proxy(
    { ...f, notes },
    {
      set(obj, key, value) {
        set.push(String(key));
        return Reflect.set(obj, key, value);
      },
    },
  );
  return { target, set };
}

describe("reconcile", () => {
  it("assigns nothing when nothing changed", () => {
    const { target, set } = watched(file());
    expect(reconcile(target, file(), file())).toBe(0);
    expect(set).toEqual([]);
  });

  it("assigns only the changed field, not the notes, for a new phone number", () => {
    const { target, set } = watched(file());
    const next = file();
    next.client.phone = "07700 900999";
    expect(reconcile(target, file(), next)).toBe(1);
    expect(set).toEqual(["client"]);
    expect(target.client.phone).toBe("07700 900999");
    expect(target.notes.map((n) => n.text)).toEqual(["First", "Second", "Third"]);
  });

  it("assigns only the one note that changed in a list of the same notes", () => {
    const { target, set } = watched(file());
    const next = file();
    next.notes[1].text = "Second, edited elsewhere";
    reconcile(target, file(), next);
    expect(set).toEqual(["notes[1]"]);
    expect(target.notes[1].text).toBe("Second, edited elsewhere");
  });

  it("replaces a list whose records changed (one added, or a new order)", () => {
    const { target, set } = watched(file());
    const next = file();
    next.notes.unshift({ id: "n0", text: "New" });
    reconcile(target, file(), next);
    expect(set).toEqual(["notes"]);
    expect(target.notes.map((n) => n.id)).toEqual(["n0", "n1", "n2", "n3"]);
  });

  it("takes a field that appeared or went away", () => {
    const { target } = watched(file());
    const next = file();
    next.risk = { level: "high" };
    reconcile(target, file(), next);
    expect(target.risk).toEqual({ level: "high" });
    const after = file();
    delete after.risk;
    reconcile(target, next, after);
    expect(target.risk).toBeUndefined();
  });
});
