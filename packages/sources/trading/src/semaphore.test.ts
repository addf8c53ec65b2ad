import { describe, expect, it } from 'vitest';
import { Semaphore } from './semaphore.js';

/** A task that stays in flight until its `finish` is called. */
function pendingTask(started: number[], id: number): { task: () => Promise<number>; finish: () => void } {
  let finish = (): void => undefined;
  const task = (): Promise<number> => {
    started.push(id);
    return new Promise<number>((resolve) => {
      finish = () => {
        resolve(id);
      };
    });
  };
  return {
    task,
    finish: () => {
      finish();
    },
  };
}

describe('Semaphore', () => {
  it('runs at most `limit` tasks at once, the others in order as slots free up', async () => {
    const semaphore = new Semaphore(2);
    const started: number[] = [];
    const tasks = [1, 2, 3, 4].map((id) => pendingTask(started, id));
    const results = tasks.map(({ task }) => semaphore.run(task));
    await Promise.resolve();
    expect(started).toEqual([1, 2]);
    tasks[1]!.finish();
    await expect(results[1]).resolves.toBe(2);
    await expect.poll(() => started).toEqual([1, 2, 3]);
    tasks[0]!.finish();
    await expect.poll(() => started).toEqual([1, 2, 3, 4]);
    tasks[2]!.finish();
    tasks[3]!.finish();
    await expect(Promise.all(results)).resolves.toEqual([1, 2, 3, 4]);
  });

  it('turns a task that throws at once into a rejection and frees its slot', async () => {
    const semaphore = new Semaphore(1);
    await expect(
      semaphore.run(() => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(semaphore.run(() => Promise.resolve('next'))).resolves.toBe('next');
  });

  it('without a limit starts every task at once and still turns a throw into a rejection', async () => {
    const semaphore = new Semaphore(Number.POSITIVE_INFINITY);
    const started: number[] = [];
    const tasks = [1, 2, 3].map((id) => pendingTask(started, id));
    const results = tasks.map(({ task }) => semaphore.run(task));
    expect(started).toEqual([1, 2, 3]);
    for (const { finish } of tasks) {
      finish();
    }
    await expect(Promise.all(results)).resolves.toEqual([1, 2, 3]);
    await expect(
      semaphore.run(() => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
  });
});
