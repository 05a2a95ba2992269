import * as v from "valibot";

/**
 * Where sfu-node regions are, so the Classroom can give each participant the nearest node. A node announces a
 * region name (fleet registration); names here are the usual cloud region families, and a provider's numbered
 * zone (`eu-west-1`, `us-east-2`) counts as its family. Regions not listed (and `local`) have no place: they
 * rank after every located node, which on one machine (a single `local` node) is the only choice anyway.
 */
export const REGION_LOCATIONS: Readonly<Record<string, { latitude: number; longitude: number; continent: string }>> = {
  "us-east": { latitude: 39.0, longitude: -77.5, continent: "NA" },
  "us-central": { latitude: 41.3, longitude: -95.9, continent: "NA" },
  "us-west": { latitude: 45.6, longitude: -121.2, continent: "NA" },
  "ca-central": { latitude: 45.5, longitude: -73.6, continent: "NA" },
  "sa-east": { latitude: -23.5, longitude: -46.6, continent: "SA" },
  "eu-west": { latitude: 53.3, longitude: -6.3, continent: "EU" },
  "eu-central": { latitude: 50.1, longitude: 8.7, continent: "EU" },
  "eu-north": { latitude: 59.3, longitude: 18.1, continent: "EU" },
  "eu-south": { latitude: 45.5, longitude: 9.2, continent: "EU" },
  "me-central": { latitude: 25.2, longitude: 55.3, continent: "AS" },
  "af-south": { latitude: -33.9, longitude: 18.4, continent: "AF" },
  "ap-south": { latitude: 19.1, longitude: 72.9, continent: "AS" },
  "ap-southeast": { latitude: 1.35, longitude: 103.8, continent: "AS" },
  "ap-northeast": { latitude: 35.7, longitude: 139.7, continent: "AS" },
  "ap-east": { latitude: 22.3, longitude: 114.2, continent: "AS" },
  "au-southeast": { latitude: -33.9, longitude: 151.2, continent: "OC" },
};

/** Where a participant connects from, as the Worker read it from the request's `cf` (all parts optional). */
export const JoinerLocationSchema = v.strictObject({
  latitude: v.optional(v.pipe(v.number(), v.minValue(-90), v.maxValue(90))),
  longitude: v.optional(v.pipe(v.number(), v.minValue(-180), v.maxValue(180))),
  /** Two-letter continent code (NA, SA, EU, AF, AS, OC, AN). */
  continent: v.optional(v.pipe(v.string(), v.regex(/^[A-Z]{2}$/))),
  country: v.optional(v.pipe(v.string(), v.regex(/^[A-Z0-9]{2}$/))),
});
export type JoinerLocation = v.InferOutput<typeof JoinerLocationSchema>;

/** Header on the class channel upgrade that carries the {@link JoinerLocation} from the Worker to the object. */
export const JOINER_LOCATION_HEADER = "x-insp-joiner-location";

/** Reads the location fields of a Workers request's `cf` object (absent fields stay absent). */
export function locationFromCf(cf: Record<string, unknown> | undefined): JoinerLocation {
  const number = (value: unknown) => (typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : Number.NaN);
  const location: JoinerLocation = {};
  const latitude = number(cf?.latitude);
  const longitude = number(cf?.longitude);
  if (Number.isFinite(latitude) && Number.isFinite(longitude) && Math.abs(latitude) <= 90 && Math.abs(longitude) <= 180) {
    location.latitude = latitude;
    location.longitude = longitude;
  }
  if (typeof cf?.continent === "string" && /^[A-Z]{2}$/.test(cf.continent)) location.continent = cf.continent;
  if (typeof cf?.country === "string" && /^[A-Z0-9]{2}$/.test(cf.country)) location.country = cf.country;
  return location;
}

/**
 * A joiner placed at a region's coordinates (`eu-west` → Dublin), or undefined for a name with no place. Local
 * development only (worker/routes/join.ts honours it under LOCAL_DEV): tests and benchmarks on one machine put
 * participants "in" regions with it.
 */
export function locationOfRegion(region: string | null): JoinerLocation | undefined {
  const place = region ? regionLocation(region) : undefined;
  return place ? { latitude: place.latitude, longitude: place.longitude, continent: place.continent } : undefined;
}

/** The region's place: an exact name, else its family (`eu-west-1` → `eu-west`), else undefined. */
export function regionLocation(region: string): (typeof REGION_LOCATIONS)[string] | undefined {
  return REGION_LOCATIONS[region] ?? REGION_LOCATIONS[region.replace(/-\d+$/, "")];
}

/**
 * How far a joiner is from a region, for ranking only: kilometres on the great circle when both places are
 * known; otherwise 0 for the joiner's own continent and 20,000 (half the Earth) for another; Infinity when the
 * region has no place or nothing is known about the joiner.
 */
export function distanceKm(joiner: JoinerLocation, region: string): number {
  const place = regionLocation(region);
  if (!place) return Number.POSITIVE_INFINITY;
  if (joiner.latitude !== undefined && joiner.longitude !== undefined) {
    const rad = Math.PI / 180;
    const dLat = (place.latitude - joiner.latitude) * rad;
    const dLon = (place.longitude - joiner.longitude) * rad;
    const a = Math.sin(dLat / 2) ** 2 + Math.cos(joiner.latitude * rad) * Math.cos(place.latitude * rad) * Math.sin(dLon / 2) ** 2;
    return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(a)));
  }
  if (joiner.continent) return joiner.continent === place.continent ? 0 : 20_000;
  return Number.POSITIVE_INFINITY;
}
