// Where the project is: commands read and write its files (db/, docs/, .env, .pgdata/).
import path from 'path';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
