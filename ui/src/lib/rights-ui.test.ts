import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync, mount, tick, unmount, type Component } from "svelte";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn() }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: {
      today: vi.fn(),
      clients: vi.fn(),
      caseload: vi.fn(),
      addClient: vi.fn(),
      clientFile: vi.fn(),
      clientHistory: vi.fn(),
      editClient: vi.fn(),
      eraseClient: vi.fn(),
      retentionOf: vi.fn(),
      retentionReview: vi.fn(),
      retentionPolicy: vi.fn(),
      saveRetentionPolicy: vi.fn(),
      extendRetention: vi.fn(),
      destroyForRetention: vi.fn(),
      accessRequests: vi.fn(),
      openAccessRequest: vi.fn(),
      createAccessExport: vi.fn(),
      closeAccessRequest: vi.fn(),
      supervisionExport: vi.fn(),
    },
  };
});

import { api, type RetentionPolicy } from "./api";
import { app } from "./app.svelte";
import { addDays, isoDay } from "./format";
import { accessRequest, idleClock, retentionItem, rightsFile } from "./testing";
import SubjectAccess from "../components/SubjectAccess.svelte";
import EraseClient from "../components/EraseClient.svelte";
import IdentityHistory from "../components/IdentityHistory.svelte";
import IdentityEditor from "../components/IdentityEditor.svelte";
import RightsTab from "../components/RightsTab.svelte";
import Retention from "../screens/Retention.svelte";
import Today from "../screens/Today.svelte";
import ClientFile from "../screens/ClientFile.svelte";
import Clients from "../screens/Clients.svelte";

const m = vi.mocked(api);

let component: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = "";
});
beforeEach(() => {
  vi.clearAllMocks();
  app.view = { name: "today" };
  app.notice = null;
  app.screen = "main";
});

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector<T>(sel);
const text = (sel: string) => $(sel)?.textContent?.replace(/\s+/g, " ").trim() ?? "";

function type(sel: string, value: string) {
  const el = $<HTMLInputElement>(sel)!;
  el.value = value;
  el.dispatchEvent(new Event("input", { bubbles: true }));
  flushSync();
}

function choose(sel: string, value: string) {
  const el = $<HTMLSelectElement>(sel)!;
  el.value = value;
  el.dispatchEvent(new Event("change", { bubbles: true }));
  flushSync();
}

async function click(sel: string) {
  $(sel)!.click();
  flushSync();
  await tick();
}

function show<P extends Record<string, unknown>>(C: Component<P>, props: P) {
  const target = document.createElement("div");
  document.body.appendChild(target);
  component = mount(C as Component<Record<string, unknown>>, { target, props });
  flushSync();
}

function rows(sel: string) {
  return [...document.querySelectorAll<HTMLTableRowElement>(`${sel} tbody tr`)].map((tr) =>
    [...tr.cells].map((td) => td.textContent!.replace(/\s+/g, " ").trim()),
  );
}

describe("subject access", () => {
  it("takes the received date in UK form and shows the export and its due date", async () => {
    m.accessRequests.mockResolvedValue([]);
    show(SubjectAccess, { code: "C-7KQ2", file: rightsFile() });
    await vi.waitFor(() => expect(m.accessRequests).toHaveBeenCalled());
    const received = $<HTMLInputElement>("#sar-received")!;
    expect(document.querySelector(`label[for="sar-received"]`)?.textContent).toBe("Request received on");
    expect(received.value).toMatch(/^\d{2}\/\d{2}\/\d{4}$/); // today, dd/mm/yyyy
    expect($<HTMLInputElement>("#sar-include-process")?.checked).toBe(false);

    type("#sar-received", "31/01/2026");
    const folder = "/home/sam/Downloads/subject-access-C-7KQ2-2026-11-23T10-00-00";
    m.createAccessExport.mockResolvedValue({
      folder,
      html: `${folder}/subject-access.html`,
      json: `${folder}/subject-access.json`,
      request: accessRequest(),
    });
    await click("#sar-create");
    await vi.waitFor(() => expect(text("#sar-result")).toContain("Export written."));
    // No folder chosen: the core writes to the Downloads folder.
    expect(m.createAccessExport).toHaveBeenCalledWith("C-7KQ2", false, "2026-01-31", [], null);
    expect($("#sar-result")?.getAttribute("role")).toBe("status");
    // Where it went in words, not as a raw path.
    expect(text("#sar-written-folder")).toBe("Downloads › subject-access-C-7KQ2-2026-11-23T10-00-00");
    expect(text("#sar-result")).toContain("Printable document subject-access.html");
    expect(text("#sar-result")).toContain("Data file subject-access.json");
    expect(text("#sar-result")).not.toContain("/home/sam");
    expect(text("#sar-result")).toContain("Request received 31/01/2026; the answer is due by 28/02/2026.");
    // The request is open now: its dates show, and it can be marked answered.
    expect(text("#sar-open-request")).toContain("Request received 31/01/2026, due 28/02/2026");
    expect($("#sar-close")).not.toBeNull();
  });

  it("shows an open request's due date, overdue in words as well as colour", async () => {
    const due = addDays(isoDay(), -3);
    m.accessRequests.mockResolvedValue([
      accessRequest({ client_code: "C-OTHR", id: "x" }),
      accessRequest({ received_on: addDays(due, -28), due_on: due }),
    ]);
    show(SubjectAccess, { code: "C-7KQ2", file: rightsFile() });
    await vi.waitFor(() => expect($("#sar-open-request")).not.toBeNull());
    const [y, mo, d] = due.split("-");
    expect(text("#sar-due")).toBe(`${d}/${mo}/${y}`);
    expect(text("#sar-open-request")).toContain("! Overdue by 3 days");
    expect($("#sar-received")).toBeNull(); // the open request's date is used

    m.createAccessExport.mockResolvedValue({
      folder: "/d",
      html: "/d/a.html",
      json: "/d/a.json",
      request: accessRequest({ due_on: due }),
    });
    await click("#sar-create");
    await vi.waitFor(() => expect(m.createAccessExport).toHaveBeenCalledWith("C-7KQ2", false, null, [], null));

    m.closeAccessRequest.mockResolvedValue(accessRequest({ status: "answered", answered_on: "2026-11-23" }));
    await click("#sar-close");
    await vi.waitFor(() => expect(text("#sar-request-msg")).toBe("Request marked as answered on 23/11/2026."));
    expect($("#sar-received")).not.toBeNull();
  });

  it("includes process notes only by choice, with the warning, and withholds passages word for word", async () => {
    m.accessRequests.mockResolvedValue([]);
    show(SubjectAccess, { code: "C-7KQ2", file: rightsFile() });
    await vi.waitFor(() => expect(m.accessRequests).toHaveBeenCalled());
    const options = () => [...document.querySelectorAll<HTMLOptionElement>("#sar-redact-item option")].map((o) => o.value);
    expect(options()).toEqual(["n1", "n2", "a1"]);
    const hint = $("#sar-include-process")!.getAttribute("aria-describedby")!;
    expect(document.getElementById(hint)?.textContent).toMatch(/deliberate choice, and it is recorded in the audit log/);

    await click("#sar-include-process");
    expect(text("#sar-include-process-hint")).toMatch(/^Process notes will be included\. Process notes are your own/);
    expect($("#sar-include-process-hint")?.classList.contains("warn")).toBe(true);
    expect(options()).toEqual(["n1", "n2", "a1", "p1"]);

    // The chosen item's text shows, to copy the passage from.
    expect(text("#sar-item-text")).toContain("Subjective: Worried about her sister Ann's health.");
    type("#sar-passage", "her sister ann's health");
    type("#sar-redact-reason", "third party");
    await click("#sar-redact-add");
    expect(text("#sar-redact-msg")).toMatch(/not in the chosen item, word for word/);
    expect(document.activeElement?.id).toBe("sar-passage");

    type("#sar-passage", "  her sister Ann's health ");
    await click("#sar-redact-add");
    expect(text("#sar-redact-msg")).toBe("Passage added: 1 to withhold.");
    choose("#sar-redact-item", "a1");
    expect(text("#sar-item-text")).toBe("Ann is her older sister.");
    type("#sar-passage", "Ann");
    type("#sar-redact-reason", "third party");
    await click("#sar-redact-add");
    expect([...document.querySelectorAll("#sar-redaction-list li")].length).toBe(2);

    m.createAccessExport.mockResolvedValue({ folder: "/d", html: "/d/a.html", json: "/d/a.json", request: accessRequest() });
    await click("#sar-create");
    await vi.waitFor(() => expect(m.createAccessExport).toHaveBeenCalled());
    expect(m.createAccessExport).toHaveBeenCalledWith("C-7KQ2", true, isoDay(), [
      { item_id: "n1", passage: "her sister Ann's health", reason: "third party" },
      { item_id: "a1", passage: "Ann", reason: "third party" },
    ], null);
    await vi.waitFor(() => expect(text("#sar-result")).toContain("Export written, with process notes, 2 passages withheld."));
  });
});

describe("erasing a client", () => {
  const conflict = {
    kind: "conflict",
    message: "client C-7KQ2's records are inside their retention period (review due 02/03/2033)",
  };

  it("explains a refusal inside retention, then erases only with the override ticked", async () => {
    show(EraseClient, { code: "C-7KQ2", name: "Siân O'Brien", reviewOn: "2033-03-02" });
    await click("#erase-client");
    expect(text("dialog h2")).toBe("Erase C-7KQ2 for good?");
    expect($("#erase-override")).toBeNull();

    // The reason is kept for good: it may not name the client.
    type("#erase-reason", "O'Brien asked to be forgotten");
    await click("#erase-confirm");
    expect(text("#erase-reason-error")).toMatch(/must not name the client/);
    expect(m.eraseClient).not.toHaveBeenCalled();

    type("#erase-reason", "Client asked for erasure (UK GDPR art. 17)");
    m.eraseClient.mockRejectedValueOnce(conflict);
    await click("#erase-confirm");
    await vi.waitFor(() => expect($("#erase-retention")).not.toBeNull());
    expect(m.eraseClient).toHaveBeenLastCalledWith("C-7KQ2", "Client asked for erasure (UK GDPR art. 17)", false);
    expect(text("dialog h2")).toBe("Erase inside the retention period?");
    expect(text("#erase-retention")).toContain("These records are inside their retention period (until 02/03/2033).");
    expect($("#erase-retention")?.getAttribute("role")).toBe("alert");
    expect(text("#erase-confirm")).toBe("Erase despite retention");
    expect($<HTMLInputElement>("#erase-override")?.checked).toBe(false);
    expect(app.view).toEqual({ name: "today" });

    // Not without the box ticked.
    await click("#erase-confirm");
    expect(m.eraseClient).toHaveBeenCalledTimes(1);
    expect(text("dialog [role=alert].error-text, dialog p.msg")).toMatch(/Tick the box/);

    m.eraseClient.mockResolvedValueOnce({
      id: "e1",
      client_code: "C-7KQ2",
      erased_at: "2026-11-23T10:00:00Z",
      reason: "Client asked for erasure (UK GDPR art. 17)",
      kind: "erasure",
      certificate: null,
    });
    await click("#erase-override");
    await click("#erase-confirm");
    await vi.waitFor(() => expect(app.view).toEqual({ name: "clients" }));
    expect(m.eraseClient).toHaveBeenLastCalledWith("C-7KQ2", "Client asked for erasure (UK GDPR art. 17)", true);
    expect(app.notice).toMatch(/C-7KQ2 has been erased/);
    expect($("dialog")).toBeNull();
  });

  it("takes the review date from the refusal when it was not known", async () => {
    show(EraseClient, { code: "C-7KQ2", name: "Siân O'Brien" });
    await click("#erase-client");
    type("#erase-reason", "Client asked for erasure");
    m.eraseClient.mockRejectedValueOnce(conflict);
    await click("#erase-confirm");
    await vi.waitFor(() => expect(text("#erase-retention")).toContain("retention period (until 02/03/2033)."));
    await vi.waitFor(() => expect(document.activeElement?.id).toBe("erase-override"));
  });

  it("shows any other refusal in the dialog and stays", async () => {
    show(EraseClient, { code: "C-7KQ2", name: "Siân O'Brien" });
    await click("#erase-client");
    type("#erase-reason", "Asked");
    m.eraseClient.mockRejectedValueOnce({ kind: "invalid_input", message: "the reason must not name the client" });
    await click("#erase-confirm");
    await vi.waitFor(() => expect(text("dialog p.msg")).toBe("the reason must not name the client"));
    expect($("#erase-override")).toBeNull();
    expect(app.view).toEqual({ name: "today" });
  });
});

describe("the identity history", () => {
  it("lists past values newest first, in UK dates, when opened", async () => {
    m.clientHistory.mockResolvedValue([
      { changed_at: "2026-03-02T10:05:00Z", field: "date_of_birth", old_value: "1988-04-13", new_value: "1988-03-14", reason: "typing error" },
      { changed_at: "2026-07-01T09:00:00Z", field: "aliases", old_value: null, new_value: '["Sian Kelly","Bean"]', reason: null },
      { changed_at: "2026-07-01T09:00:00Z", field: "email", old_value: "old@example.org", new_value: null, reason: null },
      { changed_at: "2026-08-03T12:00:00Z", field: "nhs_number", old_value: "9434765910", new_value: "9434765919", reason: "typing slip" },
    ]);
    show(IdentityHistory, { code: "C-7KQ2" });
    expect(m.clientHistory).not.toHaveBeenCalled(); // reading it is audited: only when asked
    expect(text("#client-history summary")).toBe("History of corrections");
    const details = $<HTMLDetailsElement>("#client-history")!;
    details.open = true;
    details.dispatchEvent(new Event("toggle"));
    flushSync();
    await vi.waitFor(() => expect($("#client-history-table")).not.toBeNull());
    expect(m.clientHistory).toHaveBeenCalledWith("C-7KQ2");
    expect(rows("#client-history-table")).toEqual([
      ["03/08/2026 13:00", "NHS number", "943 476 5910", "943 476 5919", "typing slip"],
      ["01/07/2026 10:00", "Email", "old@example.org", "—", "—"],
      ["01/07/2026 10:00", "Also known as", "—", "Sian Kelly, Bean", "—"],
      ["02/03/2026 10:05", "Date of birth", "13/04/1988", "14/03/1988", "typing error"],
    ]);
  });

  it("says when there have been no corrections", async () => {
    m.clientHistory.mockResolvedValue([]);
    show(IdentityHistory, { code: "C-7KQ2" });
    const details = $<HTMLDetailsElement>("#client-history")!;
    details.open = true;
    details.dispatchEvent(new Event("toggle"));
    flushSync();
    await vi.waitFor(() => expect(text("#client-history")).toContain("No corrections yet"));
  });
});

describe("editing identity details", () => {
  it("sends only what changed, with the reason", async () => {
    const onsaved = vi.fn();
    show(IdentityEditor, { code: "C-7KQ2", identity: rightsFile().client.identity, onsaved, oncancel: vi.fn() });
    await tick();
    expect(document.activeElement?.id).toBe("edit-name");
    await click("#client-edit-save");
    expect(text("#client-edit-msg")).toBe("Nothing has changed: every detail is as it was.");
    expect(m.editClient).not.toHaveBeenCalled();

    type("#edit-name", "Siân Kelly");
    type("#edit-dob", "");
    await click("#edit-alias-add");
    type("#edit-alias-0", "Siân O'Brien");
    type("#edit-reason", "client asked: new surname");
    m.editClient.mockResolvedValue(rightsFile().client);
    await click("#client-edit-save");
    await vi.waitFor(() => expect(onsaved).toHaveBeenCalledWith(["full_name", "date_of_birth", "aliases"]));
    expect(m.editClient).toHaveBeenCalledWith(
      "C-7KQ2",
      { full_name: "Siân Kelly", date_of_birth: null, aliases: ["Siân O'Brien"] },
      "client asked: new surname",
    );
  });
});

describe("the NHS number in the identity form", () => {
  const withNhs = () => ({ ...rightsFile().client.identity!, nhs_number: "9434765919" });

  it("is optional, with a visible hint tied to it, and typed on a number pad", async () => {
    show(IdentityEditor, { code: "C-7KQ2", identity: rightsFile().client.identity, onsaved: vi.fn(), oncancel: vi.fn() });
    const input = $<HTMLInputElement>("#edit-nhs")!;
    expect(document.querySelector('label[for="edit-nhs"]')?.textContent).toBe("NHS number (optional)");
    expect(input.getAttribute("inputmode")).toBe("numeric");
    expect(input.value).toBe("");
    const described = input.getAttribute("aria-describedby")!.split(" ");
    expect(described.map((id) => document.getElementById(id)?.textContent ?? "")).toEqual(["10 digits, e.g. 943 476 5919", ""]);
    expect(input.getAttribute("aria-invalid")).toBeNull();
  });

  it("refuses a wrong check digit by the field, without calling the core", async () => {
    show(IdentityEditor, { code: "C-7KQ2", identity: rightsFile().client.identity, onsaved: vi.fn(), oncancel: vi.fn() });
    await tick();
    expect(document.activeElement?.id).toBe("edit-name");
    type("#edit-nhs", "943 476 5918");
    await click("#client-edit-save");
    expect(m.editClient).not.toHaveBeenCalled();
    const input = $<HTMLInputElement>("#edit-nhs")!;
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(document.activeElement).toBe(input);
    expect(text("#edit-nhs-error")).toBe(
      "This is not a valid NHS number: its last digit does not match the others (check it for a typing slip).",
    );
    expect(input.getAttribute("aria-describedby")).toContain("edit-nhs-error");
    // Letters are refused too.
    type("#edit-nhs", "943 476 59l9");
    await click("#client-edit-save");
    expect(text("#edit-nhs-error")).toBe("An NHS number is ten digits (spaces allowed), like 943 476 5919.");
    expect(m.editClient).not.toHaveBeenCalled();
    // Put right, the error goes as it is typed.
    type("#edit-nhs", "943 476 5919");
    expect(text("#edit-nhs-error")).toBe("");
    expect(input.getAttribute("aria-invalid")).toBeNull();
  });

  it("sends a good number as typed, and only when it changed", async () => {
    const onsaved = vi.fn();
    show(IdentityEditor, { code: "C-7KQ2", identity: withNhs(), onsaved, oncancel: vi.fn() });
    // Kept as ten digits, shown in groups; the same number typed another way is no change.
    expect($<HTMLInputElement>("#edit-nhs")?.value).toBe("943 476 5919");
    type("#edit-nhs", "943-476-5919");
    await click("#client-edit-save");
    expect(text("#client-edit-msg")).toBe("Nothing has changed: every detail is as it was.");
    expect(m.editClient).not.toHaveBeenCalled();

    type("#edit-nhs", " 943 476 5910 ");
    m.editClient.mockResolvedValue(rightsFile().client);
    await click("#client-edit-save");
    expect(text("#edit-nhs-error")).toMatch(/^This is not a valid NHS number/);
    expect(m.editClient).not.toHaveBeenCalled();

    type("#edit-nhs", " 943 476 0070 ");
    await click("#client-edit-save");
    await vi.waitFor(() => expect(onsaved).toHaveBeenCalledWith(["nhs_number"]));
    expect(m.editClient).toHaveBeenCalledWith("C-7KQ2", { nhs_number: "943 476 0070" }, null);
  });

  it("is cleared by emptying the field", async () => {
    const onsaved = vi.fn();
    show(IdentityEditor, { code: "C-7KQ2", identity: withNhs(), onsaved, oncancel: vi.fn() });
    type("#edit-nhs", "  ");
    m.editClient.mockResolvedValue(rightsFile().client);
    await click("#client-edit-save");
    await vi.waitFor(() => expect(onsaved).toHaveBeenCalledWith(["nhs_number"]));
    expect(m.editClient).toHaveBeenCalledWith("C-7KQ2", { nhs_number: null }, null);
  });

  it("is shown in the client's details in groups of 3-3-4", async () => {
    const file = rightsFile();
    file.client.identity!.nhs_number = "9434765919";
    m.clientFile.mockResolvedValue(file);
    show(ClientFile, { code: "C-7KQ2", tab: "sessions" });
    await vi.waitFor(() => expect($("#client-nhs-number")).not.toBeNull());
    expect(text("#client-nhs-number")).toBe("943 476 5919");
    expect($("#client-nhs-number")?.previousElementSibling?.textContent).toBe("NHS number");
  });
});

describe("adding a client with an NHS number", () => {
  async function openForm() {
    m.caseload.mockResolvedValue([]);
    show(Clients, {});
    await vi.waitFor(() => expect(m.caseload).toHaveBeenCalled());
    await click("#add-client");
    type("#client-name", "Jonah Reyes");
  }

  it("refuses a bad number by the field, without calling the core", async () => {
    await openForm();
    const input = $<HTMLInputElement>("#client-nhs")!;
    expect(document.querySelector('label[for="client-nhs"]')?.textContent).toBe("NHS number (optional)");
    expect(input.getAttribute("inputmode")).toBe("numeric");
    expect(document.getElementById(input.getAttribute("aria-describedby")!.split(" ")[0])?.textContent).toBe(
      "10 digits, e.g. 943 476 5919",
    );
    type("#client-nhs", "9434765819");
    await click("#client-save");
    expect(m.addClient).not.toHaveBeenCalled();
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(document.activeElement).toBe(input);
    expect(text("#client-nhs-error")).toMatch(/^This is not a valid NHS number/);
  });

  it("sends a good number as typed, and none when left empty", async () => {
    await openForm();
    m.addClient.mockResolvedValue({ code: "C-J0NA", status: "active", opened_on: "2026-03-02", ended_on: null, identity: null });
    type("#client-nhs", "943 476 5919");
    await click("#client-save");
    await vi.waitFor(() => expect(m.addClient).toHaveBeenCalledTimes(1));
    expect(m.addClient.mock.calls[0][0]).toMatchObject({ full_name: "Jonah Reyes", nhs_number: "943 476 5919" });

    await click("#add-client");
    type("#client-name", "Amara Okafor");
    expect($<HTMLInputElement>("#client-nhs")?.value).toBe("");
    await click("#client-save");
    await vi.waitFor(() => expect(m.addClient).toHaveBeenCalledTimes(2));
    expect(m.addClient.mock.calls[1][0]).toMatchObject({ full_name: "Amara Okafor", nhs_number: null });
  });
});

describe("the rights tab", () => {
  it("shows the review date and basis, and exports for supervision", async () => {
    m.retentionOf.mockResolvedValue({ review_on: "2033-03-02", basis: "adult: 7 years after the last session" });
    m.accessRequests.mockResolvedValue([]);
    show(RightsTab, { code: "C-7KQ2", file: rightsFile() });
    await vi.waitFor(() => expect(text("#retention-review")).toBe(
      "Review the records on 02/03/2033 (adult: 7 years after the last session).",
    ));

    type("#supervision-shift", "1.5");
    await click("#supervision-export");
    expect(text("#supervision-result")).toMatch(/whole number/);
    expect(m.supervisionExport).not.toHaveBeenCalled();

    m.supervisionExport.mockResolvedValue({ file: "/home/sam/Downloads/supervision-2026-11-23.json", notes: 1 });
    type("#supervision-shift", "-30");
    await click("#supervision-export");
    await vi.waitFor(() => expect(text("#supervision-result")).toBe(
      "Exported 1 finalised note, dates shifted. Saved as supervision-2026-11-23.json in Downloads.",
    ));
    // No save dialog outside the desktop app: the core picks the file in Downloads.
    expect(m.supervisionExport).toHaveBeenCalledWith(["C-7KQ2"], -30, null);
    expect($("#supervision-result")?.getAttribute("role")).toBe("status");
  });

  it("says when there is no review date yet", async () => {
    m.retentionOf.mockResolvedValue(null);
    m.accessRequests.mockResolvedValue([]);
    show(RightsTab, { code: "C-7KQ2", file: rightsFile() });
    await vi.waitFor(() => expect(text("#retention-review")).toMatch(/^No review date yet/));
  });
});

describe("the retention review", () => {
  const bacp: RetentionPolicy = {
    name: "BACP / NCPS common practice",
    adult_years: 7,
    minor_until_age: 25,
    minor_until_age_if_17: 26,
    minor_min_years: 7,
  };
  const nhs: RetentionPolicy = { ...bacp, name: "NHS adults 8 years", adult_years: 8, minor_min_years: 8 };
  const policies = { policy: bacp, presets: [{ id: "bacp", policy: bacp }, { id: "nhs-adult", policy: nhs }] };

  async function open(items = [retentionItem(), retentionItem({ code: "C-0A1B", full_name: "Amara Okafor", status: "active", due: false, review_on: addDays(isoDay(), 30) })]) {
    m.retentionReview.mockResolvedValue(items);
    m.retentionPolicy.mockResolvedValue(policies);
    show(Retention, {});
    await vi.waitFor(() => expect($("#retention-list table, #retention-list .empty")).not.toBeNull());
    await vi.waitFor(() => expect($("#retention-policy-preset")).not.toBeNull());
  }

  it("lists each client with a badge in words and a mark, not colour alone", async () => {
    await open();
    expect(text("#retention-h")).toBe("Retention review");
    expect($("#retention")?.getAttribute("aria-labelledby")).toBe("retention-h");
    const [y, mo, d] = addDays(isoDay(), 30).split("-");
    expect(rows("#retention-list")).toEqual([
      ["C-M9XD", "Tomasz Nowak", "11/02/2019", "11/02/2026", "! Due for review", "adult: 7 years after the last session", "Destroy… Extend…"],
      ["C-0A1B", "Amara Okafor Still active", "11/02/2019", `${d}/${mo}/${y}`, "◷ Due in 30 days", "adult: 7 years after the last session", "Extend…"],
    ]);
    const marks = [...document.querySelectorAll("#retention-list .badge .mark")];
    expect(marks.every((mk) => mk.getAttribute("aria-hidden") === "true")).toBe(true);
    expect($("#retention-list .review-due")).not.toBeNull();
    expect($("#retention-list .review-soon")).not.toBeNull();
    expect(text("#retention-list caption")).toBe("2 clients, 1 due now; earliest review first");
  });

  it("says when nothing is due", async () => {
    await open([]);
    expect(text("#retention-list")).toBe("No records are due for review in the next 90 days.");
  });

  it("destroys after confirmation and shows the certificate to print", async () => {
    await open();
    await click('#retention-list tr[data-code="C-M9XD"] button.danger-outline');
    expect(text("dialog h2")).toBe("Destroy the records of C-M9XD?");
    expect(m.destroyForRetention).not.toHaveBeenCalled();
    m.destroyForRetention.mockResolvedValue({
      id: "er-1",
      client_code: "C-M9XD",
      erased_at: "2026-11-23T10:15:00Z",
      reason: "retention period ended",
      kind: "retention",
      certificate: {
        client_code: "C-M9XD",
        opened_on: "2018-05-01",
        ended_on: "2019-02-11",
        review_on: "2026-02-11",
        basis: "adult: 7 years after the last session",
        policy: "BACP / NCPS common practice",
        destroyed_at: "2026-11-23T10:15:00Z",
      },
    });
    m.retentionReview.mockResolvedValue([]);
    await click("#destroy-confirm");
    await vi.waitFor(() => expect($("#retention-certificate")).not.toBeNull());
    expect(m.destroyForRetention).toHaveBeenCalledWith("C-M9XD");
    const cert = text("#retention-certificate");
    expect(cert).toContain("Therapy opened 01/05/2018");
    expect(cert).toContain("Therapy ended 11/02/2019");
    expect(cert).toContain("Review date 11/02/2026");
    expect(cert).toContain("Retention policy BACP / NCPS common practice");
    expect(cert).toContain("Destroyed 23/11/2026 10:15");
    expect(cert).not.toContain("Tomasz");
    expect($("#certificate-print")).not.toBeNull();
    await vi.waitFor(() => expect(text("#retention-list")).toMatch(/No records are due/));
  });

  it("extends with a date and a reason", async () => {
    await open();
    await click('#retention-list tr[data-code="C-M9XD"] button:not(.danger-outline)');
    expect(text("dialog h2")).toBe("Keep the records of C-M9XD longer");
    type("#extend-until", "01/06/2030");
    await click("#extend-confirm");
    expect(text("dialog p.msg")).toBe("Say why the records are kept longer.");
    type("#extend-reason", "complaint open");
    m.extendRetention.mockResolvedValue(null);
    await click("#extend-confirm");
    await vi.waitFor(() => expect(m.extendRetention).toHaveBeenCalledWith("C-M9XD", "2030-06-01", "complaint open"));
    await vi.waitFor(() => expect(text("#retention p.msg[role=status]")).toBe("The records of C-M9XD are kept until 01/06/2030."));
    expect(m.retentionReview).toHaveBeenCalledTimes(2);
  });

  it("edits the policy from a preset, saves it and reloads the list", async () => {
    await open();
    expect($<HTMLSelectElement>("#retention-policy-preset")?.value).toBe("bacp");
    expect($<HTMLInputElement>("#retention-adult-years")?.value).toBe("7");
    choose("#retention-policy-preset", "nhs-adult");
    expect($<HTMLInputElement>("#retention-adult-years")?.value).toBe("8");
    expect($<HTMLInputElement>("#retention-policy-name")?.value).toBe("NHS adults 8 years");
    expect(text("#retention-policy-words")).toMatch(/^Adults: kept 8 years after the last session\./);

    m.saveRetentionPolicy.mockResolvedValue(nhs);
    await click("#retention-policy-save");
    await vi.waitFor(() => expect(m.saveRetentionPolicy).toHaveBeenCalledWith(nhs));
    await vi.waitFor(() => expect(text("#retention-policy-msg")).toBe(
      "Policy saved. Every client's review date has been recalculated.",
    ));
    expect(m.retentionReview).toHaveBeenCalledTimes(2);
  });

  it("refuses figures no policy could mean, by the field", async () => {
    await open();
    type("#retention-adult-years", "0");
    await click("#retention-policy-save");
    expect(text("#retention-adult-years-error")).toBe("The years for adults must be between 1 and 100.");
    expect($("#retention-adult-years")?.getAttribute("aria-invalid")).toBe("true");
    expect(m.saveRetentionPolicy).not.toHaveBeenCalled();
    // A figure changed by hand makes it the practice's own policy.
    await vi.waitFor(() => expect($<HTMLSelectElement>("#retention-policy-preset")?.value).toBe("custom"));
    expect($<HTMLInputElement>("#retention-policy-name")?.value).toBe("Own policy, based on BACP / NCPS common practice");
  });
});

describe("Today's subject-access panel", () => {
  function day() {
    return { date: isoDay(), appointments: [], next: null, clock: idleClock() };
  }

  it("is absent when no request is open, and never holds up the day", async () => {
    m.today.mockResolvedValue(day());
    m.accessRequests.mockResolvedValue([]);
    show(Today, {});
    expect(m.accessRequests).not.toHaveBeenCalled(); // only once the day is painted
    await vi.waitFor(() => expect(m.accessRequests).toHaveBeenCalledTimes(1));
    await tick();
    expect($("#today-sars")).toBeNull();
    expect(text("#today-h")).toBe("Today");
  });

  it("lists open requests, soonest due first, with overdue in words", async () => {
    const late = addDays(isoDay(), -2);
    const later = addDays(isoDay(), 20);
    m.today.mockResolvedValue(day());
    m.accessRequests.mockResolvedValue([
      accessRequest({ id: "r2", client_code: "C-M9XD", full_name: "Tomasz Nowak", due_on: later }),
      accessRequest({ id: "r1", due_on: late }),
    ]);
    show(Today, {});
    await vi.waitFor(() => expect($("#today-sars")).not.toBeNull());
    const uk = (s: string) => s.split("-").reverse().join("/");
    const items = [...document.querySelectorAll("#today-sars li")].map((li) => li.textContent!.replace(/\s+/g, " ").trim());
    expect(items).toEqual([
      `C-7KQ2 Siân O'Brien Due ${uk(late)} ! Overdue`,
      `C-M9XD Tomasz Nowak Due ${uk(later)} Due in 20 days`,
    ]);
    expect(text("#today-sars-h")).toBe("Subject-access requests");
    const first = $<HTMLButtonElement>("#today-sars li button")!;
    expect(first.getAttribute("aria-label")).toBe(`Open C-7KQ2, Siân O'Brien: request due ${uk(late)}, overdue by 2 days`);
    await click("#today-sars li button");
    expect(app.view).toEqual({ name: "client", code: "C-7KQ2", tab: "rights" });
  });
});

describe("the client file", () => {
  it("corrects details from the identity panel, then reloads", async () => {
    const file = rightsFile();
    m.clientFile.mockResolvedValue(file);
    show(ClientFile, { code: "C-7KQ2", tab: "sessions" });
    await vi.waitFor(() => expect($("#client-edit")).not.toBeNull());
    expect($("#client-edit")?.getAttribute("aria-expanded")).toBe("false");
    await click("#client-edit");
    await vi.waitFor(() => expect($("#client-edit-form")).not.toBeNull()); // the form is its own chunk
    expect($("#client-edit")?.getAttribute("aria-expanded")).toBe("true");
    expect($<HTMLInputElement>("#edit-name")?.value).toBe("Siân O'Brien");
    await vi.waitFor(() => expect(document.activeElement?.id).toBe("edit-name"));

    const corrected = structuredClone(file);
    corrected.client.identity!.email = "sian@example.org";
    m.editClient.mockResolvedValue(corrected.client);
    m.clientFile.mockResolvedValue(corrected);
    type("#edit-email", "sian@example.org");
    await click("#client-edit-save");
    await vi.waitFor(() => expect(text("#client-edit-result")).toBe(
      "Details corrected: Email. The previous values are in the history.",
    ));
    expect(m.editClient).toHaveBeenCalledWith("C-7KQ2", { email: "sian@example.org" }, null);
    expect($("#client-edit-form")).toBeNull();
    expect(m.clientFile).toHaveBeenCalledTimes(2);
    await vi.waitFor(() => expect(text("#client-file .identity dl")).toContain("sian@example.org"));
  });

  it("opens the Rights & retention tab (its own chunk) by its stable id", async () => {
    m.clientFile.mockResolvedValue(rightsFile());
    m.retentionOf.mockResolvedValue({ review_on: "2033-03-02", basis: "adult: 7 years after the last session" });
    m.accessRequests.mockResolvedValue([]);
    show(ClientFile, { code: "C-7KQ2", tab: "sessions" });
    await vi.waitFor(() => expect($("#rights-tab")).not.toBeNull());
    expect($("#rights-tab")?.getAttribute("role")).toBe("tab");
    expect(text("#rights-tab")).toBe("Rights & retention");
    await click("#rights-tab");
    expect($("#rights-tab")?.getAttribute("aria-selected")).toBe("true");
    expect($('[role="tabpanel"]')?.getAttribute("aria-labelledby")).toBe("rights-tab");
    await vi.waitFor(() => expect($("#retention-review")).not.toBeNull(), { timeout: 5000 });
    for (const id of ["sar-received", "sar-include-process", "sar-create", "sar-result", "erase-client", "supervision-export", "supervision-result"])
      expect(document.getElementById(id), id).not.toBeNull();
  });
});
