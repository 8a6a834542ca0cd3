// The words for a session's status, the same on every screen (Today, the week, the session
// panel, the client's sessions).

import type { AppointmentStatus } from "./api";

export const STATUS_WORDS: Record<AppointmentStatus, string> = {
  scheduled: "Booked",
  attended: "Attended",
  cancelled: "Cancelled",
  cancelled_late: "Cancelled late",
  cancelled_by_therapist: "Cancelled by you",
  did_not_attend: "Did not attend",
};
