"""FrameRing: the producer never blocks, the consumer gets the freshest frame, drops are counted."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from agent.capture.ring import FrameRing, RingCounters

SHAPE = (4, 6, 3)


def produce(ring: FrameRing, value: int, shape: tuple[int, ...] = SHAPE) -> int:
    """Write a frame filled with `value` and commit it with ts_mono = value."""
    buf = ring.writable(shape)
    buf[...] = value
    return ring.commit(float(value), 1000.0 + value)


def balanced(c: RingCounters) -> bool:
    return c.committed == c.consumed + c.dropped + c.pending


def test_rejects_fewer_than_three_slots() -> None:
    """A ring needs three slots (one held, one newest, one being written)."""
    with pytest.raises(ValueError, match="at least 3"):
        FrameRing("cam", 2)


def test_empty_ring_has_nothing_to_take() -> None:
    """Before any commit take_latest returns None."""
    assert FrameRing("cam", 3).take_latest() is None


def test_take_latest_returns_freshest_and_counts_skipped_as_dropped() -> None:
    """With frames 1-3 committed and none read, the consumer gets 3 and frames 1-2 count as dropped."""
    ring = FrameRing("cam", 4)
    for value in (1, 2, 3):
        produce(ring, value)
    frame = ring.take_latest()
    assert frame is not None
    assert (frame.camera, frame.seq, frame.ts_mono, frame.ts_wall) == ("cam", 3, 3.0, 1003.0)
    assert int(frame.image[0, 0, 0]) == 3
    counters = ring.counters()
    assert (counters.committed, counters.consumed, counters.dropped, counters.pending) == (3, 1, 2, 0)


@pytest.mark.parametrize(
    ("due_mono", "expected"),
    [
        (3.5, (1, 1)),  # frame 2 superseded at 3 (not due yet), frame 3 at 4 (due since 3.5)
        (9.0, (2, 0)),  # due only after every supersession: all of it is the rate cap
        (1.5, (0, 2)),  # due before both: the consumer was late for each
    ],
)
def test_superseded_frames_are_rate_capped_before_the_consumer_is_due_and_overwritten_after(
    due_mono: float, expected: tuple[int, int]
) -> None:
    """A frame superseded before the consumer's due time counts as rate_capped, one superseded after as overwritten."""
    ring = FrameRing("cam", 4)
    produce(ring, 1)
    frame = ring.take_latest()
    assert frame is not None
    ring.release(frame)
    ring.defer_until(due_mono)
    for value in (2, 3, 4):
        produce(ring, value)
    counters = ring.counters()
    assert (counters.rate_capped, counters.overwritten) == expected
    assert counters.dropped == 2
    assert balanced(counters)


def test_take_latest_respects_after_seq() -> None:
    """A frame is returned only if it is newer than after_seq."""
    ring = FrameRing("cam", 3)
    seq = produce(ring, 1)
    assert ring.take_latest(after_seq=seq) is None
    frame = ring.take_latest(after_seq=seq - 1)
    assert frame is not None
    assert frame.seq == seq


def test_overwrites_oldest_unread_frame_and_counts_drop() -> None:
    """Committing more frames than slots overwrites the oldest unread ones and counts each drop."""
    ring = FrameRing("cam", 3)
    for value in range(1, 11):
        produce(ring, value)
    counters = ring.counters()
    assert counters.committed == 10
    assert balanced(counters)
    assert counters.dropped == 10 - counters.pending
    frame = ring.take_latest()
    assert frame is not None
    assert frame.seq == 10
    assert int(frame.image[0, 0, 0]) == 10
    after = ring.counters()
    assert (after.dropped, after.consumed, after.pending) == (9, 1, 0)


def test_held_slot_is_never_overwritten() -> None:
    """While the consumer holds a frame, many commits never change its pixels."""
    ring = FrameRing("cam", 3)
    produce(ring, 7)
    held = ring.take_latest()
    assert held is not None
    for value in range(8, 40):
        produce(ring, value)
    assert np.all(held.image == 7)
    assert held.seq == 1
    ring.release(held)
    newest = ring.take_latest(after_seq=held.seq)
    assert newest is not None
    assert newest.seq == 33
    assert np.all(newest.image == 39)


def test_newest_frame_survives_while_the_next_is_written() -> None:
    """writable() never hands out the slot of the newest committed frame."""
    ring = FrameRing("cam", 3)
    produce(ring, 5)
    buf = ring.writable(SHAPE)
    buf[...] = 99
    frame = ring.take_latest()
    assert frame is not None
    assert np.all(frame.image == 5)


def test_slots_are_reused_and_reallocated_only_on_shape_change() -> None:
    """The producer gets the same few arrays back; a new shape gives new arrays of that shape."""
    ring = FrameRing("cam", 3)
    seen: set[int] = set()
    for value in range(12):
        seen.add(id(ring.writable(SHAPE)))
        ring.commit(float(value), float(value))
    assert len(seen) == 3
    bigger = ring.writable((8, 10, 3))
    assert bigger.shape == (8, 10, 3)
    assert id(bigger) not in seen
    assert bigger.dtype == np.uint8


def test_writable_twice_before_commit_is_the_same_slot() -> None:
    """A failed decode followed by a retry writes into the same slot and drops nothing extra."""
    ring = FrameRing("cam", 3)
    first = ring.writable(SHAPE)
    assert ring.writable(SHAPE) is first
    ring.commit(1.0, 1.0)
    assert ring.counters().dropped == 0


def test_commit_without_writable_is_an_error() -> None:
    """commit() must follow writable()."""
    with pytest.raises(RuntimeError, match="writable"):
        FrameRing("cam", 3).commit(0.0, 0.0)


def test_holding_too_many_frames_is_refused() -> None:
    """With 3 slots the consumer may hold one frame; taking a second without release raises."""
    ring = FrameRing("cam", 3)
    produce(ring, 1)
    first = ring.take_latest()
    assert first is not None
    produce(ring, 2)
    with pytest.raises(RuntimeError, match="release"):
        ring.take_latest()
    ring.release(first)
    assert ring.take_latest() is not None


def test_release_twice_is_an_error() -> None:
    """Releasing a frame that is not held raises ValueError."""
    ring = FrameRing("cam", 3)
    produce(ring, 1)
    frame = ring.take_latest()
    assert frame is not None
    ring.release(frame)
    with pytest.raises(ValueError, match="not held"):
        ring.release(frame)


def test_retaking_the_same_frame_does_not_count_twice() -> None:
    """Taking the newest frame again (after_seq below it) holds it again but consumes it once."""
    ring = FrameRing("cam", 4)
    produce(ring, 1)
    a = ring.take_latest()
    b = ring.take_latest(after_seq=0)
    assert a is not None
    assert b is not None
    assert a.seq == b.seq == 1
    assert ring.counters().consumed == 1
    ring.release(a)
    ring.release(b)


def test_commit_sets_notify_event() -> None:
    """A shared Event lets one consumer wait on many rings; commit sets it."""
    notify = threading.Event()
    rings = [FrameRing(name, 3, notify=notify) for name in ("a", "b")]
    assert not notify.is_set()
    produce(rings[1], 1)
    assert notify.is_set()


def test_wait_for_frame_wakes_on_commit_from_another_thread() -> None:
    """wait_for_frame returns True once the producer thread commits, False on timeout without one."""
    ring = FrameRing("cam", 3)
    assert ring.wait_for_frame(timeout_s=0.01) is False
    producer = threading.Thread(target=produce, args=(ring, 1))
    producer.start()
    assert ring.wait_for_frame(timeout_s=10.0) is True
    producer.join()
    frame = ring.take_latest()
    assert frame is not None
    ring.release(frame)
    assert ring.wait_for_frame(timeout_s=0.01) is False


def test_concurrent_producer_and_consumer_keep_counts_balanced() -> None:
    """Under real threads, consumed + dropped + pending always equals committed and seqs increase."""
    ring = FrameRing("cam", 3)
    total = 3000
    seqs: list[int] = []
    torn: list[int] = []

    def consume() -> None:
        last = 0
        while last < total:
            if not ring.wait_for_frame(timeout_s=5.0, after_seq=last):
                return
            frame = ring.take_latest(after_seq=last)
            if frame is None:
                continue
            if not np.all(frame.image == frame.seq % 256):
                torn.append(frame.seq)
            seqs.append(frame.seq)
            last = frame.seq
            ring.release(frame)

    consumer = threading.Thread(target=consume)
    consumer.start()
    for value in range(1, total + 1):
        buf = ring.writable(SHAPE)
        buf[...] = value % 256
        ring.commit(float(value), float(value))
    consumer.join(timeout=30)
    counters = ring.counters()
    assert torn == []
    assert seqs == sorted(set(seqs))
    assert seqs[-1] == total
    assert balanced(counters)
    assert counters.consumed == len(seqs)
    assert counters.dropped == total - len(seqs)


def test_wait_consumed_lets_the_first_frame_through_then_waits_for_each_take() -> None:
    """A consumer-paced producer may decode the first frame at once, then only after each take, so a
    consumer that starts late still gets every frame and nothing is dropped."""
    ring = FrameRing("cam", 4)
    assert ring.wait_consumed(0.0)
    produce(ring, 1)
    assert not ring.wait_consumed(0.01)  # frame 1 not taken yet: decoding frame 2 would overwrite nothing, but waits
    frame = ring.take_latest()
    assert frame is not None
    assert frame.seq == 1
    assert ring.wait_consumed(0.0)  # taken (even if still held): the next frame may be decoded
    produce(ring, 2)
    assert not ring.wait_consumed(0.01)
    ring.release(frame)
    assert ring.counters().dropped == 0


def test_wait_consumed_wakes_when_the_consumer_takes() -> None:
    """The producer blocked in wait_consumed returns True as soon as another thread takes the frame."""
    ring = FrameRing("cam", 4)
    produce(ring, 1)
    woke = threading.Event()

    def producer() -> None:
        if ring.wait_consumed(5.0):
            woke.set()

    thread = threading.Thread(target=producer)
    thread.start()
    assert not woke.wait(0.05)
    frame = ring.take_latest()
    assert frame is not None
    thread.join(5.0)
    assert woke.is_set()
