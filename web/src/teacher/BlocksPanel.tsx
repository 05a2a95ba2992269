import { createResource, type JSX } from "solid-js";
import { EnrollmentListResponseSchema } from "../../../schema/api/portal";
import { api } from "../api";
import { BlockList } from "../components/BlockList";

/** Blocks for one class; the people offered are the class's enrolled students. */
export function BlocksPanel(props: { classId: string }): JSX.Element {
  const [students] = createResource(
    () => props.classId,
    (classId) => api(`/api/classes/${classId}/enrollments`, EnrollmentListResponseSchema),
  );
  return <BlockList classId={props.classId} candidates={students()?.students ?? []} />;
}
