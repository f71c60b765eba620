/*
 * Test helper: the main() of a unit test that is one Check suite of one test
 * case, so that such a test lists only its names, fixture and tests.  The
 * status is what tests/unit/run-all expects: 0 when every test passed, 1
 * otherwise.  Header-only so that each test_*.c stays one binary.
 */
#ifndef TESTS_UNIT_UNIT_MAIN_H
#define TESTS_UNIT_UNIT_MAIN_H

#include <check.h>

/* Runs suite `suite` holding test case `tcase` with `tests` (NULL-ended).
 * setup and teardown, either may be NULL, run around each test in its
 * forked child (a checked fixture), as the tests' assertions need. */
static inline int unit_main(const char *suite, const char *tcase, SFun setup, SFun teardown,
			    const TTest *const tests[])
{
	Suite *s = suite_create(suite);
	TCase *t = tcase_create(tcase);

	if (setup || teardown)
		tcase_add_checked_fixture(t, setup, teardown);
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
