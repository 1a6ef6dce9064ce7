/**
 * Small state (approvals, schedules, counters, cursors) goes through this one interface so that the
 * embedded default and a shared database are interchangeable (ARCHITECTURE §9).
 */
export interface Store {
  get<T>(collection: string, id: string): Promise<T | undefined>;
  put<T>(collection: string, id: string, value: T): Promise<void>;
  delete(collection: string, id: string): Promise<boolean>;
  list<T>(collection: string): Promise<T[]>;
  close(): Promise<void>;
}
