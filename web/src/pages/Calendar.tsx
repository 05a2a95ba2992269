import { Calendar, type EventInput, type EventSourceFuncArg } from "@fullcalendar/core";
import dayGridPlugin from "@fullcalendar/daygrid";
import listPlugin from "@fullcalendar/list";
import timeGridPlugin from "@fullcalendar/timegrid";
import { useNavigate } from "@solidjs/router";
import { createEffect, createSignal, on, onCleanup, onMount, Show, type JSX } from "solid-js";
import type { CalendarEvent, CalendarResponse } from "../../../schema/api/portal";
import { api } from "../api";
import { intlTimeZonePlugin } from "../calendar/intl-time-zone-plugin";
import { CalendarFeed } from "../components/CalendarFeed";
import { ErrorAlert } from "../components/ErrorAlert";
import { useSession } from "../session";
import "../styles/calendar.css";

function toEventInput(event: CalendarEvent): EventInput {
  const cancelled = event.status === "cancelled";
  return {
    id: event.occurrenceId,
    // Screen readers cannot see a strike-through, so the word is in the title too.
    title: cancelled ? `${event.title} (cancelled)` : event.title,
    start: event.startsAt,
    end: event.endsAt,
    // A real link, so events are reachable by keyboard; clicks are routed in-app below.
    url: `/classes/${event.classId}`,
    classNames: [cancelled ? "event--cancelled" : "event--scheduled", `event--${event.relation}`],
    extendedProps: { classId: event.classId },
  };
}

/** Month, week and list views of the user's classes in the viewer's zone, plus the ICS subscription. */
export default function CalendarPage(): JSX.Element {
  const session = useSession();
  const navigate = useNavigate();
  const [loadError, setLoadError] = createSignal<unknown>();
  const [truncated, setTruncated] = createSignal(false);
  let host!: HTMLDivElement;
  let calendar: Calendar | undefined;

  const fetchEvents = async (range: EventSourceFuncArg): Promise<EventInput[]> => {
    try {
      const { events, truncated: more } = await api<CalendarResponse>("/api/calendar", {
        query: { from: range.start.getTime(), to: range.end.getTime() },
      });
      setLoadError(undefined);
      setTruncated(more);
      return events.map(toEventInput);
    } catch (error) {
      setLoadError(error);
      return [];
    }
  };

  // FullCalendar's built-in English locale is 12-hour; follow the viewer's own clock convention instead.
  const hour12 = new Intl.DateTimeFormat(undefined, { hour: "numeric" }).resolvedOptions().hour12 ?? false;
  const timeFormat = { hour: "2-digit", minute: "2-digit", hour12, meridiem: hour12 ? "short" : false } as const;

  onMount(() => {
    // A month grid is unreadable at phone width; the list is the better start there.
    const phone = window.matchMedia("(max-width: 40rem)").matches;
    calendar = new Calendar(host, {
      plugins: [dayGridPlugin, timeGridPlugin, listPlugin, intlTimeZonePlugin],
      timeZone: session.timeZone(),
      initialView: phone ? "listMonth" : "dayGridMonth",
      headerToolbar: { left: "prev,next today", center: "title", right: "dayGridMonth,timeGridWeek,listMonth" },
      buttonText: { today: "Today", month: "Month", week: "Week", list: "List" },
      // Dates follow the browser's language; FullCalendar falls back to its English texts (set above).
      locale: navigator.language,
      height: "auto",
      // A whole day of hour rows is too tall; the week view scrolls inside a fixed height, starting at 08:00.
      views: { timeGridWeek: { height: 720, scrollTime: "08:00:00" } },
      nowIndicator: true,
      firstDay: 1,
      eventTimeFormat: timeFormat,
      slotLabelFormat: timeFormat,
      events: fetchEvents,
      eventClick: (info) => {
        info.jsEvent.preventDefault();
        navigate(`/classes/${String(info.event.extendedProps.classId)}`);
      },
      noEventsContent: "No classes in this period.",
    });
    calendar.render();
  });

  // A changed time zone (in Settings, or once /api/me arrives) redraws the grid in the new zone.
  createEffect(on(session.timeZone, (zone) => calendar?.setOption("timeZone", zone), { defer: true }));

  onCleanup(() => calendar?.destroy());

  return (
    <section class="stack">
      <div class="page-head">
        <h1>Calendar</h1>
        <p class="muted small" style={{ margin: 0 }}>
          Times in {session.timeZone().replaceAll("_", " ")}
        </p>
      </div>
      <div class="legend" aria-hidden="true">
        <span>
          <span class="legend__swatch" />
          Enrolled
        </span>
        <span>
          <span class="legend__swatch legend__swatch--teaching" />
          Teaching
        </span>
        <span>
          <span class="legend__swatch legend__swatch--cancelled" />
          Cancelled
        </span>
      </div>
      <ErrorAlert error={loadError()} />
      <Show when={truncated()}>
        <p class="alert alert--info" role="status">
          Not every class in this period fits on one screen. Switch to the week or list view to see them all.
        </p>
      </Show>
      <div ref={host} class="calendar-host" />
      <CalendarFeed />
    </section>
  );
}
