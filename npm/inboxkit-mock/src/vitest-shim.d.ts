// The two Vitest hooks the helper uses, so the package builds without Vitest installed; users'
// projects resolve the real `vitest` types.
declare module "vitest" {
  export function beforeAll(fn: () => unknown, timeout?: number): void;
  export function afterAll(fn: () => unknown, timeout?: number): void;
}
