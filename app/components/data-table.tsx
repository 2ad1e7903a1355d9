import type { ReactNode } from "react";

/**
 * A table with a header row, which scrolls sideways on its own on a narrow screen instead of widening the
 * page. The rows (`<tr>`s) come as children.
 */
export function DataTable({ columns, children }: { columns: ReactNode[]; children: ReactNode }) {
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            {columns.map((column, i) => (
              <th scope="col" key={i}>
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
