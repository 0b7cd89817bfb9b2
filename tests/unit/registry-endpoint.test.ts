import { describe, expect, test } from "bun:test";
import {
  isLoopbackHost,
  registryApiHost,
  registryBaseUrl,
  registryScheme,
} from "../../src/image/registry/endpoint.ts";

describe("registryScheme: plain HTTP only on loopback or when insecure", () => {
  test.each([
    ["ghcr.io", false, "https"],
    ["docker.io", false, "https"],
    ["registry.example.com:5000", false, "https"],
    ["10.0.0.5:5000", false, "https"],
    ["192.168.1.2", false, "https"],
    ["localhost.example.com", false, "https"],
    ["128.0.0.1:5000", false, "https"],
    ["localhost", false, "http"],
    ["localhost:5000", false, "http"],
    ["127.0.0.1:5000", false, "http"],
    ["127.1.2.3", false, "http"],
    ["[::1]:5000", false, "http"],
    ["registry.example.com:5000", true, "http"],
    ["10.0.0.5:5000", true, "http"],
  ])("%p insecure=%p → %p", (registry, insecure, scheme) => {
    expect(registryScheme(registry, insecure)).toBe(scheme as "http" | "https");
  });
});

test("isLoopbackHost ignores the port and brackets", () => {
  expect(isLoopbackHost("[::1]")).toBe(true);
  expect(isLoopbackHost("127.0.0.1:80")).toBe(true);
  expect(isLoopbackHost("127.0.0.1.nip.io")).toBe(false);
});

test("Docker Hub's API lives on registry-1.docker.io", () => {
  expect(registryApiHost("docker.io")).toBe("registry-1.docker.io");
  expect(registryApiHost("ghcr.io")).toBe("ghcr.io");
  expect(registryBaseUrl("docker.io", false)).toBe("https://registry-1.docker.io/v2/");
  expect(registryBaseUrl("localhost:5000", false)).toBe("http://localhost:5000/v2/");
});
