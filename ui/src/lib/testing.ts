// Fixtures shared by the unit tests (never imported by the app).
import type { AccessRequest, CalendarEvent, CalendarPreview, ClientFile, ClockView, RetentionItem } from "./api";

/** The clock when no session runs, with fields overridden as a test needs. */
export function idleClock(over: Partial<ClockView> = {}): ClockView {
  return {
    running: false,
    appointment_id: null,
    client_code: null,
    client_name: null,
    started_at: null,
    ends_at: null,
    remaining_seconds: null,
    display: "",
    overrun: false,
    next: null,
    gap_minutes: null,
    buffer_minutes: 10,
    gap_short: false,
    ...over,
  };
}

/** One event of a calendar preview: a new session for C-7KQ2 on Tue 3 Mar 2026, 10:00–10:50. */
export function calEvent(over: Partial<CalendarEvent>): CalendarEvent {
  return {
    summary: "Siân O'Brien",
    start: "2026-03-03T10:00:00Z",
    end: "2026-03-03T10:50:00Z",
    status: "confirmed",
    action: "new",
    client_code: "C-7KQ2",
    new_client: false,
    previous_start: null,
    previous_end: null,
    ...over,
  };
}

/**
 * A feed's preview in March 2026, listed out of order: 2 new (one a new client, on 31 March,
 * after the clocks went forward), 1 moved, 1 cancelled, 1 unchanged, 2 skipped.
 */
export function marchPreview(over: Partial<CalendarPreview> = {}): CalendarPreview {
  return {
    id: "preview-7",
    source: "feed",
    window: { from: "2026-02-24", to: "2026-04-21" },
    events: [
      calEvent({ summary: "Siân O'Brien", start: "2026-03-02T10:00:00Z", end: "2026-03-02T10:50:00Z", action: "unchanged" }),
      calEvent({
        summary: "Jonah Reyes",
        start: "2026-03-31T09:00:00Z",
        end: "2026-03-31T09:50:00Z",
        client_code: null,
        new_client: true,
      }),
      calEvent({
        summary: "Tomasz Nowak",
        start: "2026-03-05T14:00:00Z",
        end: "2026-03-05T14:50:00Z",
        action: "moved",
        client_code: "C-M9XD",
        previous_start: "2026-03-04T14:00:00Z",
        previous_end: "2026-03-04T14:50:00Z",
      }),
      calEvent({}),
      calEvent({
        summary: "Amara Okafor",
        start: "2026-03-06T09:00:00Z",
        end: "2026-03-06T09:50:00Z",
        status: "cancelled",
        action: "cancelled",
        client_code: "C-0A1B",
      }),
    ],
    skipped: [
      { summary: "Dentist", start: "2026-03-04T00:00:00Z", reason: "It is an all-day event, not a session." },
      { summary: "Team meeting", start: null, reason: "Its start time could not be read." },
    ],
    new_clients: ["Jonah Reyes"],
    counts: { new: 2, moved: 1, cancelled: 1, unchanged: 1, skipped: 2, new_clients: 1 },
    warnings: ["3 damaged lines were skipped while reading the calendar."],
    ...over,
  };
}

/** A preview where every event is already in Casebook. */
export function unchangedPreview(): CalendarPreview {
  return marchPreview({
    events: [calEvent({ action: "unchanged" })],
    skipped: [],
    new_clients: [],
    counts: { new: 0, moved: 0, cancelled: 0, unchanged: 1, skipped: 0, new_clients: 0 },
    warnings: [],
  });
}

/**
 * Siân O'Brien's file (C-7KQ2) in March 2026: a finalised SOAP note with an addendum, a
 * draft, and a process note.
 */
export function rightsFile(): ClientFile {
  return {
    client: {
      code: "C-7KQ2",
      status: "active",
      opened_on: "2026-01-05",
      ended_on: null,
      identity: {
        full_name: "Siân O'Brien",
        date_of_birth: "1988-03-14",
        email: null,
        phone: null,
        emergency_contact: null,
        gp: null,
        nhs_number: null,
        aliases: [],
      },
    },
    appointments: [],
    notes: [
      {
        id: "n2",
        client_code: "C-7KQ2",
        appointment_id: null,
        template: "free",
        fields: { text: "Draft thoughts." },
        status: "draft",
        created_at: "2026-03-09T10:00:00Z",
        updated_at: "2026-03-09T10:00:00Z",
        finalised_at: null,
        addenda: [],
      },
      {
        id: "n1",
        client_code: "C-7KQ2",
        appointment_id: null,
        template: "soap",
        fields: { subjective: "Worried about her sister Ann's health.", objective: "", plan: "Review in two weeks." },
        status: "final",
        created_at: "2026-03-02T10:00:00Z",
        updated_at: "2026-03-02T10:00:00Z",
        finalised_at: "2026-03-02T10:50:00Z",
        addenda: [{ id: "a1", note_id: "n1", text: "Ann is her older sister.", created_at: "2026-03-03T09:00:00Z" }],
      },
    ],
    process_notes: [{ id: "p1", client_code: "C-7KQ2", text: "I felt protective.", created_at: "2026-03-02T15:00:00Z" }],
    measures: [],
  };
}

/** An open subject-access request for C-7KQ2, with fields overridden as a test needs. */
export function accessRequest(over: Partial<AccessRequest> = {}): AccessRequest {
  return {
    id: "sar-1",
    client_code: "C-7KQ2",
    full_name: "Siân O'Brien",
    received_on: "2026-01-31",
    due_on: "2026-02-28",
    status: "open",
    answered_on: null,
    ...over,
  };
}

/** A client on the retention review list. */
export function retentionItem(over: Partial<RetentionItem> = {}): RetentionItem {
  return {
    code: "C-M9XD",
    full_name: "Tomasz Nowak",
    status: "closed",
    last_session: "2019-02-11",
    review_on: "2026-02-11",
    basis: "adult: 7 years after the last session",
    due: true,
    override_reason: null,
    ...over,
  };
}
