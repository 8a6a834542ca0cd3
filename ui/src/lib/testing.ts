// Fixtures shared by the unit tests (never imported by the app).
import type { ClockView } from "./api";

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
