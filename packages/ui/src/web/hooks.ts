import { useEffect, useState } from 'preact/hooks';
import { store, type State } from './store.js';

/** The store's state; the component re-renders (at most once a frame) when it changes. */
export function useStore(): State {
  const [, setVersion] = useState(0);
  useEffect(() => store.subscribe(() => setVersion((v) => v + 1)), []);
  return store.state;
}
