/*
 * test_chan_signal: the window between a blocking call's last look at
 * the handlers that ran (chan_signal_pending) and its sleep
 * (transports/chan_signal.h). A handler that runs in it must end the
 * sleep at once: between chan_signal_sleep_begin and _end a note also
 * bumps the futex word the sleep compares (ipc's FUTEX_WAIT) and writes
 * the eventfd the sleep polls (verbs' ppoll, the preload's epoll), and
 * outside that window it touches neither. The last case is the whole
 * race, end to end: a FUTEX_WAIT on the bumped word returns at once
 * where, without the bump, it sleeps to its timeout (the negative
 * control, the 200 ms a preload sleep could last before).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "transports/chan_signal.h"

static uint64_t efd_count(int fd)
{
	uint64_t v = 0;
	return read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v) ? v : 0;
}

static void a_note_inside_the_window_bumps_the_word_and_writes_the_fd(void **state)
{
	(void)state;
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(fd >= 0);
	uint32_t word = 7;
	chan_signal_take();
	chan_signal_sleep_begin(&word, fd);
	chan_signal_note(SIGUSR2); /* what the preload's trampoline calls */
	chan_signal_sleep_end();
	assert_int_equal(word, 8);
	assert_int_equal(efd_count(fd), 1);
	assert_true(chan_signal_pending());
	assert_true(chan_signal_take() == 1ull << (SIGUSR2 - 1));
	/* Outside the window: noted, nothing else touched. */
	chan_signal_note(SIGUSR2);
	assert_int_equal(word, 8);
	assert_int_equal(efd_count(fd), 0);
	assert_true(chan_signal_take() == 1ull << (SIGUSR2 - 1));
	/* Only the word, only the fd. */
	chan_signal_sleep_begin(&word, -1);
	chan_signal_note(SIGUSR1);
	chan_signal_sleep_end();
	chan_signal_sleep_begin(NULL, fd);
	chan_signal_note(SIGUSR1);
	chan_signal_sleep_end();
	assert_int_equal(word, 9);
	assert_int_equal(efd_count(fd), 1);
	chan_signal_take();
	close(fd);
}

static void a_note_keeps_errno(void **state)
{
	(void)state;
	chan_signal_sleep_begin(NULL, 1000000); /* not a descriptor: write fails */
	errno = 1234;
	chan_signal_note(SIGUSR1);
	chan_signal_sleep_end();
	assert_int_equal(errno, 1234);
	chan_signal_take();
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* FUTEX_WAIT(word, seq, 300 ms): how long it took. */
static uint64_t futex_wait_ns(uint32_t *word, uint32_t seq)
{
	struct timespec ts = {.tv_nsec = 300000000};
	uint64_t t0 = mono_ns();
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seq, &ts, NULL, 0);
	return mono_ns() - t0;
}

static void a_handler_after_the_last_look_ends_a_futex_sleep(void **state)
{
	(void)state;
	uint32_t word = 0;
	chan_signal_take();
	/* The sleeper's order (ipc host_wait): begin, read the value, look,
	 * then the handler lands, then the sleep. */
	chan_signal_sleep_begin(&word, -1);
	uint32_t seq = __atomic_load_n(&word, __ATOMIC_ACQUIRE);
	assert_false(chan_signal_pending());
	chan_signal_note(SIGUSR1);
	uint64_t took = futex_wait_ns(&word, seq);
	chan_signal_sleep_end();
	print_message("futex sleep after a handler in the window: %.3f ms\n", (double)took / 1e6);
	assert_true(took < 100000000ull);
	assert_true(chan_signal_take() != 0);
	/* Negative control: the same sleep with the handler outside the
	 * window (no bump) runs to its timeout. */
	seq = __atomic_load_n(&word, __ATOMIC_ACQUIRE);
	chan_signal_note(SIGUSR1);
	took = futex_wait_ns(&word, seq);
	print_message("the same without the window: %.3f ms\n", (double)took / 1e6);
	assert_true(took >= 250000000ull);
	chan_signal_take();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_note_inside_the_window_bumps_the_word_and_writes_the_fd),
		cmocka_unit_test(a_note_keeps_errno),
		cmocka_unit_test(a_handler_after_the_last_look_ends_a_futex_sleep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
