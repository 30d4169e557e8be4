// The commands' progress lines would drown jest's report; tests assert on results instead.
import { setQuiet } from '../../scripts/lib/cli/log';

setQuiet(true);
