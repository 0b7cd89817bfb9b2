// Sandbox addressing: slot → /30, MACs, MTU bounds, and the agent's static config.
import { describe, expect, test } from "bun:test";
import { MsbError, UsageError } from "../../src/errors.ts";
import { guestNetworkConfig, MAX_SLOTS, networkPlan } from "../../src/network/plan.ts";

describe("networkPlan", () => {
  const cases: Array<[number, string, string, string, string, string]> = [
    // slot, network, gateway, guest, gateway MAC, guest MAC
    [0, "100.96.0.0", "100.96.0.1", "100.96.0.2", "06:6d:73:00:00:00", "02:6d:73:00:00:00"],
    [1, "100.96.0.4", "100.96.0.5", "100.96.0.6", "06:6d:73:00:00:01", "02:6d:73:00:00:01"],
    [64, "100.96.1.0", "100.96.1.1", "100.96.1.2", "06:6d:73:00:00:40", "02:6d:73:00:00:40"],
    [70_000, "100.100.69.192", "100.100.69.193", "100.100.69.194", "06:6d:73:01:11:70", "02:6d:73:01:11:70"],
    [
      MAX_SLOTS - 1,
      "100.127.255.252",
      "100.127.255.253",
      "100.127.255.254",
      "06:6d:73:07:ff:ff",
      "02:6d:73:07:ff:ff",
    ],
  ];
  for (const [slot, network, gateway, guest, gatewayMac, guestMac] of cases) {
    test(`slot ${slot}`, () => {
      const plan = networkPlan(slot);
      expect(plan).toMatchObject({ slot, network, prefix: 30, netmask: "255.255.255.252", mtu: 1500 });
      expect(plan.gateway).toMatchObject({ ip: gateway, mac: gatewayMac });
      expect(plan.guest).toMatchObject({ ip: guest, mac: guestMac });
      expect([...plan.gateway.ipBytes].join(".")).toBe(gateway);
      expect(plan.dns).toEqual([gateway]);
    });
  }

  test("MACs are locally administered unicast", () => {
    for (const mac of [networkPlan(9).gateway.macBytes, networkPlan(9).guest.macBytes]) {
      expect(mac[0]! & 0b11).toBe(0b10);
    }
  });

  test("MTU defaults to 1500 and accepts 1280..65520", () => {
    expect(networkPlan(0, { mtu: 65520 }).mtu).toBe(65520);
    expect(networkPlan(0, { mtu: 1280 }).mtu).toBe(1280);
    for (const mtu of [1279, 65521, 1500.5]) expect(() => networkPlan(0, { mtu })).toThrow(UsageError);
  });

  test("slots outside the pool are refused", () => {
    for (const slot of [-1, MAX_SLOTS, 1.5]) expect(() => networkPlan(slot)).toThrow(MsbError);
  });

  test("the agent's static config", () => {
    expect(guestNetworkConfig(networkPlan(1, { mtu: 9000 }))).toEqual({
      interface: "eth0",
      mac: "02:6d:73:00:00:01",
      address: "100.96.0.6",
      prefix: 30,
      gateway: "100.96.0.5",
      mtu: 9000,
      dns: ["100.96.0.5"],
    });
  });
});
