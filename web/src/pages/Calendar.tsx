import { Calendar, type EventInput, type EventSourceFuncArg } from "@fullcalendar/core";
import dayGridPlugin from "@fullcalendar/daygrid";
import listPlugin from "@fullcalendar/list";
import timeGridPlugin from "@fullcalendar/timegrid";
import { useNavigate } from "@solidjs/router";
import { createEffect, createSignal, on, onCleanup, onMount, Show, type JSX } from "solid-js";
import { type CalendarEvent, CalendarResponseSchema } from "../../../schema/api/portal";
import { api } from "../api";
import { intlTimeZonePlugin } from "../calendar/intl-time-zone-plugin";
import { CalendarFeed } from "../components/CalendarFeed";
import { ErrorAlert } from "../components/ErrorAlert";
import { useSession } from "../session";
import { displayLocale, RANGE_SEPARATOR, TIME_OF_DAY, wallClock } from "../time";
import "../styles/calendar.css";

/** Where the time grid starts when the shown days have no class: the start of a working day. */
const WORKING_DAY_START_HOUR = 8;

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
  let scrolledFor = "";

  const fetchEvents = async (range: EventSourceFuncArg): Promise<EventInput[]> => {
    try {
      const { events, truncated: more } = await api("/api/calendar", CalendarResponseSchema, {
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

  /**
   * Scrolls a time grid to its earliest class (half an hour before it), or to the working day when the shown days
   * have none: a grid that opens at 00:00 hides every afternoon class below the fold.
   */
  const scrollToFirstClass = () => {
    if (!calendar || !calendar.view.type.startsWith("timeGrid")) return;
    const viewKey = `${calendar.view.type}|${calendar.view.activeStart.getTime()}`;
    // Once a class was scrolled to, a refetch of the same days keeps whatever scroll the user chose since.
    if (viewKey === scrolledFor) return;
    const { activeStart, activeEnd } = calendar.view;
    const zone = session.timeZone();
    const minutes = calendar
      .getEvents()
      .filter((event) => event.start && event.start < activeEnd && (event.end ?? event.start) > activeStart)
      .map((event) => {
        const wall = wallClock(event.start!.getTime(), zone);
        return wall.hour * 60 + wall.minute;
      });
    if (minutes.length > 0) scrolledFor = viewKey;
    const target = minutes.length > 0 ? Math.max(0, Math.min(...minutes) - 30) : WORKING_DAY_START_HOUR * 60;
    const pad = (n: number) => String(n).padStart(2, "0");
    calendar.scrollToTime(`${pad(Math.floor(target / 60))}:${pad(target % 60)}:00`);
  };

  onMount(() => {
    // A month grid is unreadable at phone width and seven day columns overlap their headers there: phones get the
    // list first, and three days at a time instead of the week.
    const phone = window.matchMedia("(max-width: 40rem)").matches;
    const timeView = phone ? "timeGridThreeDays" : "timeGridWeek";
    calendar = new Calendar(host, {
      plugins: [dayGridPlugin, timeGridPlugin, listPlugin, intlTimeZonePlugin],
      timeZone: session.timeZone(),
      initialView: phone ? "listMonth" : "dayGridMonth",
      headerToolbar: { left: "prev,next today", center: "title", right: `dayGridMonth,${timeView},listMonth` },
      buttonText: { today: "Today", month: "Month", week: "Week", list: "List" },
      // The same locale and time options as every other time in the app (web/src/time.ts); FullCalendar keeps its
      // English button texts (set above).
      locale: displayLocale(),
      height: "auto",
      views: {
        timeGridWeek: { dayHeaderFormat: { weekday: "short", day: "numeric" } },
        timeGridThreeDays: { type: "timeGrid", duration: { days: 3 }, buttonText: "3 days", dayHeaderFormat: { weekday: "short", day: "numeric" } },
      },
      // A whole day of hour rows is too tall, so time grids scroll inside a fixed height (to the first class, below).
      // FullCalendar takes `height` per calendar, not per view (a per-view one is ignored and the grid grows to
      // 24 hours, opening at midnight), so it is switched with the view.
      viewDidMount: ({ view }) => {
        const height = view.type.startsWith("timeGrid") ? (phone ? 600 : 720) : "auto";
        if (!calendar || calendar.getOption("height") === height) return;
        queueMicrotask(() => {
          calendar?.setOption("height", height);
          // Scrolled before the grid had its height, the scroll did nothing: scroll again now that it has one.
          scrolledFor = "";
          scrollToFirstClass();
        });
      },
      scrollTime: `${String(WORKING_DAY_START_HOUR).padStart(2, "0")}:00:00`,
      // New days may show events already fetched (a week inside the month) or fetch them; scroll in either case.
      datesSet: () => {
        scrolledFor = "";
        scrollToFirstClass();
      },
      eventsSet: scrollToFirstClass,
      nowIndicator: true,
      firstDay: 1,
      eventTimeFormat: TIME_OF_DAY,
      slotLabelFormat: TIME_OF_DAY,
      defaultRangeSeparator: RANGE_SEPARATOR,
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
