import { createPlugin } from "@fullcalendar/core";
import { NamedTimeZoneImpl } from "@fullcalendar/core/internal";
import { zonedLocalToUtc } from "../../../schema/time-zone";
import { offsetMinutes, wallClock } from "../time";

/**
 * Named time zones for FullCalendar from the browser's own Intl data, so the calendar draws days and hours in the
 * viewer's zone (not the machine's) without pulling in luxon or moment-timezone. FullCalendar hands wall-clock
 * arrays as [year, month0, day, hour, minute, second, ms].
 */
class IntlNamedTimeZone extends NamedTimeZoneImpl {
  /** Minutes ahead of UTC at the instant this zone's clock shows the wall time `a`. */
  offsetForArray(a: number[]): number {
    const [year = 1970, month0 = 0, day = 1, hour = 0, minute = 0] = a;
    const utc = zonedLocalToUtc({ year, month: month0 + 1, day, hour, minute }, this.timeZoneName);
    return offsetMinutes(utc, this.timeZoneName);
  }

  timestampToArray(ms: number): number[] {
    const w = wallClock(ms, this.timeZoneName);
    return [w.year, w.month - 1, w.day, w.hour, w.minute, w.second, ((ms % 1000) + 1000) % 1000];
  }
}

export const intlTimeZonePlugin = createPlugin({
  name: "insp-live-intl-time-zone",
  namedTimeZonedImpl: IntlNamedTimeZone,
});
