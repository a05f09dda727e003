// Cheaper argon2 costs and quiet logs in tests (src/upstream/local/passwords.ts reads NODE_ENV at load).
process.env.NODE_ENV = 'test';
