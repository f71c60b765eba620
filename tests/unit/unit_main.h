/*
 * Test helper: the main() of a unit test that is one Check suite of one test
 * case, so that such a test lists only its names, fixture, time limit and
 * tests.  The status is what tests/unit/run-all expects: 0 when every test
 * passed, 1 otherwise.  Header-only so that each test_*.c stays one binary.
 */
#ifndef TESTS_UNIT_UNIT_MAIN_H
#define TESTS_UNIT_UNIT_MAIN_H

#include <check.h>

struct unit_suite {
	const char *name;  /* the suite's */
	const char *tcase; /* its one test case's */
	/* Run around each test in its forked child (a checked fixture), as
	 * the tests' assertions need; either may be NULL. */
	SFun setup, teardown;
	int timeout; /* seconds a test may take; 0: Check's default */
};

/* Runs suite u with tests (NULL-ended). */
static inline int unit_main(const struct unit_suite *u, const TTest *const tests[])
{
	Suite *s = suite_create(u->name);
	TCase *t = tcase_create(u->tcase);

	if (u->timeout)
		tcase_set_timeout(t, u->timeout);
	if (u->setup || u->teardown)
		tcase_add_checked_fixture(t, u->setup, u->teardown);
	for (unsigned int i = 0; tests[i]; i++)
		tcase_add_test(t, tests[i]);
	suite_add_tcase(s, t);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}

#endif
